package status

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"
)

// OfflineAfter: a lock not heard from for this long is offline.
const OfflineAfter = 10 * time.Minute

// LowBattery is the battery percentage below which a door needs attention.
const LowBattery = 20

// Ranks of what needs attention, worst first: a door the hub cannot reach
// at all, then one whose lock's list is unknown, then one whose lock still
// admits someone revoked, then the rest.
const (
	RankOffline     = 6
	RankDrift       = 5
	RankRevocation  = 4
	RankProblem     = 3 // low battery, forged messages, overflow, not in the site model
	RankNoLock      = 2
	RankNotice      = 1 // an update on its way, a door open, messages queued
	attentionNeeded = RankProblem
)

// Attention says what about a door needs a technician, worst first, and a
// rank: 0 nothing, higher is worse (RankOffline ... RankNotice).
func Attention(d Door, now time.Time) (rank int, why []string) {
	add := func(r int, s string) {
		rank = max(rank, r)
		why = append(why, s)
	}
	switch {
	case d.Lock == "":
		add(RankNoLock, "no lock paired")
	case d.LastSeen.IsZero():
		add(RankOffline, "lock never heard from")
	case now.Sub(d.LastSeen) > OfflineAfter:
		add(RankOffline, "offline for "+now.Sub(d.LastSeen).Round(time.Minute).String())
	}
	if d.Lock != "" && d.ListDrift {
		add(RankDrift, "lock's list drifted: reloading it")
	}
	if d.Lock != "" && d.PendingRevocations > 0 {
		s := fmt.Sprintf("%d revocation(s) not applied", d.PendingRevocations)
		if !d.OldestRevocation.IsZero() {
			s += ", oldest " + now.Sub(d.OldestRevocation).Round(time.Second).String()
		}
		add(RankRevocation, s)
	}
	if !d.Known {
		add(RankProblem, "not in the site model")
	}
	if d.Lock != "" && d.BatteryPercent >= 0 && d.BatteryPercent < LowBattery {
		add(RankProblem, fmt.Sprintf("battery %d%%", d.BatteryPercent))
	}
	if d.Forged > 0 || d.Replayed > 0 {
		add(RankProblem, fmt.Sprintf("%d forged, %d replayed messages", d.Forged, d.Replayed))
	}
	if d.Overflow > 0 {
		add(RankProblem, fmt.Sprintf("%d credential(s) do not fit the lock's list", d.Overflow))
	}
	if d.Lock != "" && d.ListDigest != "" && !d.ListDrift && !d.ListCurrent && d.PendingRevocations == 0 {
		add(RankNotice, fmt.Sprintf("list update on its way (%d change(s))", max(d.PendingChanges, 1)))
	}
	if d.DoorState == "open" {
		add(RankNotice, "door open")
	}
	if d.Queued > 0 {
		add(RankNotice, fmt.Sprintf("%d messages queued", d.Queued))
	}
	return rank, why
}

// ByAttention orders doors for a person: what needs attention first (by
// rank), pending revocations oldest first, then by door id.
func ByAttention(doors []Door, now time.Time) {
	slices.SortStableFunc(doors, func(a, b Door) int {
		ra, _ := Attention(a, now)
		rb, _ := Attention(b, now)
		return cmp.Or(cmp.Compare(rb, ra), compareOldest(a.OldestRevocation, b.OldestRevocation), cmp.Compare(a.Door, b.Door))
	})
}

// compareOldest puts the earlier time first and a zero time last.
func compareOldest(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

type pageDoor struct {
	Door
	Rank   int
	Why    []string
	Online bool
	Seen   string
	// RevocationAge: how long the oldest revocation has been pending.
	RevocationAge string
}

type pageData struct {
	Now     time.Time
	Report  *Report
	Ready   bool
	Checks  map[string]string
	Doors   []pageDoor
	Events  []Event
	Problem int // doors needing attention
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"deref": func(b *bool) bool { return b != nil && *b },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>doorhub{{with .Report}} {{.HubID}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1em;max-width:60em;color:#111;background:#fff}
h1{font-size:1.4em;margin:.2em 0} h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #ddd;vertical-align:top}
.wrap{overflow-x:auto} .bad{background:#fde2e1} .warn{background:#fff4d6} .ok{color:#176f2c} .no{color:#b3261e;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em;margin:0} dt{font-weight:600} dd{margin:0}
small{color:#555}
</style></head><body>
<h1>doorhub{{with .Report}} {{.HubID}}{{end}}</h1>
<p>{{if .Ready}}<span class="ok">Ready</span>{{else}}<span class="no">Not ready</span>{{end}}{{if .Problem}} · <span class="no">{{.Problem}} door(s) need attention</span>{{end}} <small>as of {{ts .Now}}</small></p>
{{with .Checks}}<dl>{{range $k, $v := .}}<dt>{{$k}}</dt><dd>{{if eq $v "ok"}}<span class="ok">ok</span>{{else}}<span class="no">{{$v}}</span>{{end}}</dd>{{end}}</dl>{{end}}
{{with .Report}}
<h2>Hub</h2>
<dl>
<dt>Version</dt><dd>{{.Version}}, up {{.Uptime}}</dd>
<dt>Clock</dt><dd>{{if .Clock.Trusted}}<span class="ok">trusted</span>{{else}}<span class="no">not trusted</span>{{end}}: {{.Clock.Reason}}</dd>
<dt>Site model</dt><dd>version {{.Store.Version}}: {{.Store.Counts.Doors}} doors, {{.Store.Counts.People}} people, {{.Store.Counts.Grants}} grants</dd>
<dt>Cloud</dt><dd>{{.Cloud.State}}{{if not .Cloud.LastContact.IsZero}}, last contact {{ts .Cloud.LastContact}}{{end}}</dd>
{{with .Outbox}}<dt>Outbox</dt><dd>{{.Pending}} waiting{{if .OldestAgeSeconds}}, oldest {{.OldestAgeSeconds}} s{{end}}{{if .Degraded}}, <span class="no">degraded: {{.Reason}}</span>{{end}}</dd>{{end}}
<dt>Radio</dt><dd>{{.Radio.State}} on {{.Radio.Port}}{{with .Radio.LastError}}, <span class="no">{{.}}</span>{{end}}</dd>
</dl>
{{end}}
<h2>Doors</h2>
<div class="wrap"><table>
<thead><tr><th>Door</th><th>Needs</th><th>Lock</th><th>Last seen</th><th>Access list</th><th>Revocations</th><th>Battery</th><th>RSSI</th><th>State</th></tr></thead>
<tbody>{{range .Doors}}
<tr class="{{if ge .Rank 3}}bad{{else if ge .Rank 1}}warn{{end}}"><td>{{.Door.Door}}{{with .Name}}<br><small>{{.}}</small>{{end}}</td>
<td>{{range $i, $w := .Why}}{{if $i}}; {{end}}{{$w}}{{else}}<span class="ok">ok</span>{{end}}</td>
<td>{{or .Lock "-"}}</td><td>{{.Seen}}</td>
<td>{{if .ListDrift}}<span class="no">drifted</span>{{else if .ListCurrent}}<span class="ok">current</span>{{else if .ListDigest}}{{.PendingChanges}} pending{{else}}-{{end}}{{with .ListDigest}}<br><small><code>{{.}}</code></small>{{end}}{{if .Overflow}}<br><span class="no">{{.Overflow}} left out</span>{{end}}</td>
<td>{{if .PendingRevocations}}<span class="no">{{.PendingRevocations}} pending, oldest {{.RevocationAge}}</span>{{else if .Known}}<span class="ok">none pending</span>{{else}}-{{end}}</td>
<td>{{if ge .BatteryPercent 0}}{{.BatteryPercent}}%{{else}}?{{end}}</td>
<td>{{if and .RSSI (ne .RSSI -128)}}{{.RSSI}} dBm{{else}}?{{end}}</td><td>{{or .DoorState "-"}}</td></tr>{{else}}
<tr><td colspan="9">No doors yet.</td></tr>{{end}}
</tbody></table></div>
<h2>Recent activity</h2>
<div class="wrap"><table>
<thead><tr><th>Time</th><th>Door</th><th>Event</th><th>Reason</th><th>Who</th></tr></thead>
<tbody>{{range .Events}}
<tr><td>{{ts .At}}{{if not .ClockTrusted}}?{{end}}</td><td>{{.Door}}</td>
<td>{{if .Allowed}}{{if deref .Allowed}}allowed{{else}}denied{{end}} ({{.Credential}}){{else}}{{.Kind}}{{end}}</td>
<td>{{or .Reason "-"}}</td><td>{{if and .Visibility (ne .Visibility "visible")}}<small>private</small>{{else}}{{or .Person .Service .By "-"}}{{end}}</td></tr>{{else}}
<tr><td colspan="5">Nothing yet.</td></tr>{{end}}
</tbody></table></div>
</body></html>
`))

// page serves the status page: the same facts as the JSON, for people.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	data := pageData{Now: now, Ready: true, Checks: map[string]string{}}
	for n, check := range s.opts.Checks {
		if err := check(); err != nil {
			data.Checks[n], data.Ready = err.Error(), false
		} else {
			data.Checks[n] = "ok"
		}
	}
	if s.opts.Report != nil {
		rep := s.opts.Report()
		data.Report = &rep
	}
	if s.opts.Doors != nil {
		for _, d := range s.opts.Doors() {
			pd := pageDoor{Door: d, Seen: "never"}
			pd.Rank, pd.Why = Attention(d, now)
			pd.Online = d.Lock != "" && !d.LastSeen.IsZero() && now.Sub(d.LastSeen) <= OfflineAfter
			if !d.LastSeen.IsZero() {
				pd.Seen = now.Sub(d.LastSeen).Round(time.Second).String() + " ago"
			}
			if d.Lock == "" {
				pd.Seen = "-"
			}
			if !d.OldestRevocation.IsZero() {
				pd.RevocationAge = now.Sub(d.OldestRevocation).Round(time.Second).String()
			}
			if pd.Rank >= attentionNeeded {
				data.Problem++
			}
			data.Doors = append(data.Doors, pd)
		}
	}
	slices.SortStableFunc(data.Doors, func(a, b pageDoor) int {
		return cmp.Or(cmp.Compare(b.Rank, a.Rank), compareOldest(a.OldestRevocation, b.OldestRevocation),
			cmp.Compare(a.Door.Door, b.Door.Door))
	})
	if s.opts.Recent != nil {
		ev, _, _ := s.opts.Recent.After(0, 20)
		slices.Reverse(ev)
		data.Events = ev
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Frame-Options", "DENY")
	if err := pageTmpl.Execute(w, data); err != nil {
		s.log.Error("status page", "err", err)
	}
}
