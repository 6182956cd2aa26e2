package status

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Report is GET /api/v1/status: what a technician asks first.
type Report struct {
	HubID   string    `json:"hub_id"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Uptime in whole seconds, and as text.
	UptimeSeconds int64           `json:"uptime_seconds"`
	Uptime        string          `json:"uptime"`
	Clock         hub.ClockStatus `json:"clock"`
	Store         StoreReport     `json:"store"`
	Cloud         CloudReport     `json:"cloud"`
	Outbox        *OutboxReport   `json:"outbox,omitempty"`
	Radio         RadioReport     `json:"radio"`
	// Recovery lists the recovery actions taken since start, by name.
	Recovery map[string]uint64 `json:"recovery"`
	// ActivityDropped counts activity records the log could not keep.
	ActivityDropped uint64 `json:"activity_dropped"`
}

// StoreReport is the site model the hub holds.
type StoreReport struct {
	Version uint64     `json:"version"`
	Counts  hub.Counts `json:"counts"`
	Sizes   any        `json:"sizes,omitempty"`
}

// CloudReport is the cloud link.
type CloudReport struct {
	Configured bool   `json:"configured"`
	Broker     string `json:"broker,omitempty"`
	State      string `json:"state"` // off, connected, disconnected
	// LastContact: the last message received from the cloud, if known.
	LastContact time.Time `json:"last_contact,omitzero"`
	// Stats are the link's counters (cloudlink.Stats).
	Stats any `json:"stats,omitempty"`
}

// OutboxReport is the activity waiting for the cloud.
type OutboxReport struct {
	hub.OutboxStatus
	// Oldest is the time of the oldest undelivered record; OldestAge its
	// age in seconds.
	Oldest           time.Time `json:"oldest,omitzero"`
	OldestAgeSeconds int64     `json:"oldest_age_seconds"`
}

// RadioReport is the radio coprocessor's port.
type RadioReport struct {
	Port      string    `json:"port"`
	State     string    `json:"state"` // off, disconnected, connected, answering
	Since     time.Time `json:"since,omitzero"`
	Firmware  string    `json:"firmware,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// Details are the port's counters (serialport.Status).
	Details any `json:"details,omitempty"`
}

// Event is one activity record as the endpoint shows it: the privacy
// rule applied (no identity unless the decision is visible) and never a
// credential secret (a card id or a code is not in any record).
type Event struct {
	// ID numbers the events the endpoint has seen since start (for
	// ?after=); Seq is the outbox's, when the record got one.
	ID           uint64           `json:"id"`
	Kind         hub.ActivityKind `json:"kind"`
	Door         string           `json:"door,omitempty"`
	At           time.Time        `json:"at"`
	ClockTrusted bool             `json:"clock_trusted"`
	Credential   string           `json:"credential,omitempty"`
	Allowed      *bool            `json:"allowed,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	Subject      string           `json:"subject,omitempty"`
	Visibility   string           `json:"visibility,omitempty"`
	Person       string           `json:"person_id,omitempty"`
	Host         string           `json:"host_id,omitempty"`
	Service      string           `json:"service,omitempty"`
	Grant        string           `json:"grant_id,omitempty"`
	GuestGrant   string           `json:"guest_grant_id,omitempty"`
	Tour         string           `json:"tour_id,omitempty"`
	Alarm        string           `json:"alarm,omitempty"`
	Battery      *int             `json:"battery_percent,omitempty"`
	Command      string           `json:"command,omitempty"`
	By           string           `json:"by,omitempty"`
	Lost         *hub.Lost        `json:"lost,omitempty"`
}

// EventOf makes the endpoint's view of an activity record. Fields are
// copied by an allowlist: identity only when the decision is visible.
func EventOf(a hub.Activity) Event {
	e := Event{Kind: a.Kind, Door: a.Door, At: a.At, ClockTrusted: a.ClockTrusted, Battery: a.BatteryPercent,
		Command: a.Command, By: a.By, Lost: a.Lost}
	if d := a.Decision; d != nil {
		e.Door = d.Door
		allowed := d.Allowed
		e.Allowed = &allowed
		e.Credential, e.Reason, e.Subject, e.Alarm = string(d.Kind), string(d.Reason), string(d.Subject), string(d.Alarm)
		e.Visibility = string(d.Visibility)
		if d.Visibility == hub.Visible {
			e.Person, e.Host, e.Service = d.PersonID, d.HostID, d.Service
			e.Grant, e.GuestGrant, e.Tour = d.GrantID, d.GuestGrant, d.TourID
		}
	}
	return e
}

// Recent keeps the last events in memory for GET /api/v1/activity. It is
// safe for concurrent use.
type Recent struct {
	mu     sync.Mutex
	max    int
	next   uint64
	events []Event
	wake   chan struct{}
	// persisted is the newest ID Persist wrote; keptChunk the lowest
	// chunk that may still be stored (recent_store.go).
	persisted, keptChunk uint64
}

// NewRecent keeps up to max events.
func NewRecent(max int) *Recent {
	if max <= 0 {
		max = 500
	}
	return &Recent{max: max, next: 1, wake: make(chan struct{})}
}

// Add records an activity record (the privacy rule applied here too).
func (r *Recent) Add(a hub.Activity) {
	e := EventOf(a)
	r.mu.Lock()
	e.ID = r.next
	r.next++
	r.events = append(r.events, e)
	if len(r.events) > r.max {
		r.events = append(r.events[:0:0], r.events[len(r.events)-r.max:]...)
	}
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// After returns up to limit events with ID > after (the newest ones when
// more), the ID of the newest event kept, and a channel closed when
// another event arrives.
func (r *Recent) After(after uint64, limit int) ([]Event, uint64, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []Event{}
	for _, e := range r.events {
		if e.ID > after {
			out = append(out, e)
		}
	}
	if limit >= 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, r.next - 1, r.wake
}

// ExplainRequest asks whether a credential would open a door at a time.
// Exactly one of Card, Code and Email.
type ExplainRequest struct {
	Door  string    `json:"door"`
	Card  string    `json:"card,omitempty"`
	Code  string    `json:"code,omitempty"`
	Email string    `json:"email,omitempty"`
	At    time.Time `json:"at,omitzero"` // zero: now
}

// ExplainResult is the decision (one per credential of a person for
// Email) and the grant behind each.
type ExplainResult struct {
	Door      string        `json:"door"`
	At        time.Time     `json:"at"`
	Decisions []Explanation `json:"decisions"`
}

// Explanation is one decision as explained: the reason, and the grant
// that decided, when one did. Identity follows the privacy rule.
type Explanation struct {
	Event
	Grant *hub.Grant `json:"grant,omitempty"`
}

// Explainer answers explain requests (the daemon's engine; it changes
// nothing).
type Explainer interface {
	Explain(r ExplainRequest) (ExplainResult, error)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Report == nil {
		writeError(w, http.StatusServiceUnavailable, "no status")
		return
	}
	writeJSON(w, http.StatusOK, s.opts.Report())
}

// activity serves ?after=ID&limit=N (default 100), and "last", the newest
// event's ID, to follow from; with ?wait=DURATION waits up to
// that long for an event after ID (for doorhub events --follow).
func (s *Server) activity(w http.ResponseWriter, r *http.Request) {
	if s.opts.Recent == nil {
		writeJSON(w, http.StatusOK, map[string]any{"events": []Event{}})
		return
	}
	q := r.URL.Query()
	var after uint64
	limit := 100
	var wait time.Duration
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "after: "+err.Error())
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			writeError(w, http.StatusBadRequest, "limit: want a number")
			return
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > 25*time.Second {
			writeError(w, http.StatusBadRequest, "wait: want a duration up to 25s")
			return
		}
	}
	events, last, wake := s.opts.Recent.After(after, limit)
	if len(events) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-wake:
			events, last, _ = s.opts.Recent.After(after, limit)
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "last": last})
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	if s.opts.Explainer == nil {
		writeError(w, http.StatusServiceUnavailable, "no engine")
		return
	}
	var req ExplainRequest
	if !readBody(w, r, &req) {
		return
	}
	n := 0
	for _, v := range []string{req.Card, req.Code, req.Email} {
		if v != "" {
			n++
		}
	}
	if req.Door == "" || n != 1 {
		writeError(w, http.StatusBadRequest, "give a door and exactly one of card, code and email")
		return
	}
	res, err := s.opts.Explainer.Explain(req)
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		s.log.Error("explain failed", slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// Explained makes the explanation of a decision and the grant behind it,
// with the privacy rule applied to both.
func Explained(d hub.Decision, g *hub.Grant) Explanation {
	a := hub.Activity{Kind: hub.ActivityAccess, Door: d.Door, At: d.At, ClockTrusted: d.ClockTrusted, Decision: &d}
	x := Explanation{Event: EventOf(a)}
	if g != nil {
		c := *g
		if d.Visibility != hub.Visible {
			c.PersonID = ""
		}
		x.Grant = &c
	}
	return x
}
