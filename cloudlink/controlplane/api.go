package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/config"
)

// APIError is the body of every error answer.
type APIError struct {
	Status  int                 `json:"-"`
	Message string              `json:"error"`
	Lines   []console.LineError `json:"lines,omitempty"`
}

func (e *APIError) Error() string { return e.Message }

// maxBody bounds a request (a CSV import is the largest).
const maxBody = 8 << 20

func handle[Req, Resp any](fn func(Req) (Resp, error)) http.HandlerFunc {
	return handleReq(func(_ *http.Request, req Req) (Resp, error) { return fn(req) })
}

// onSite runs a request on the site it names (SiteHeader), or the only one.
func onSite[Req, Resp any](s *Server, fn func(*site, Req) (Resp, error)) http.HandlerFunc {
	return handleReq(func(hr *http.Request, req Req) (Resp, error) {
		st, err := s.siteFor(hr)
		if err != nil {
			var zero Resp
			return zero, err
		}
		return fn(st, req)
	})
}

// op runs a console operation on the request's site.
func op[Req, Resp any](s *Server, fn func(*console.Console, Req) (Resp, error)) http.HandlerFunc {
	return onSite(s, func(st *site, req Req) (Resp, error) { return fn(st.console, req) })
}

func handleReq[Req, Resp any](fn func(*http.Request, Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if r.Method != http.MethodPost {
			writeErr(w, &APIError{Status: http.StatusMethodNotAllowed, Message: "use POST"})
			return
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeErr(w, &APIError{Status: http.StatusBadRequest, Message: "request: " + err.Error()})
			return
		}
		resp, err := fn(r, req)
		if err != nil {
			writeErr(w, toAPIError(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

func toAPIError(err error) *APIError {
	e := &APIError{Status: http.StatusInternalServerError, Message: err.Error()}
	switch console.Kind(err) {
	case console.ErrInvalid:
		e.Status = http.StatusBadRequest
	case console.ErrNotFound:
		e.Status = http.StatusNotFound
	case console.ErrConflict:
		e.Status = http.StatusConflict
	}
	var le *console.LineErrors
	if errors.As(err, &le) {
		e.Lines = le.Lines
	}
	return e
}

func writeErr(w http.ResponseWriter, e *APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

func (s *Server) routes() http.Handler {
	type C = console.Console
	mux := http.NewServeMux()
	mux.Handle("/api/v1/site/create", handle(s.createSite))
	mux.Handle("/api/v1/site", op(s, func(c *C, _ struct{}) (console.SiteView, error) { return c.Site() }))
	mux.Handle("/api/v1/sites", handle(s.listSites))
	mux.Handle("/api/v1/door/add", op(s, (*C).AddDoor))
	mux.Handle("/api/v1/door/offline", op(s, (*C).SetDoorOffline))
	mux.Handle("/api/v1/key/create", op(s, (*C).CreateKey))
	mux.Handle("/api/v1/hub/add", onSite(s, s.addHub))
	mux.Handle("/api/v1/hubs", onSite(s, s.listHubs))
	mux.Handle("/api/v1/device/register", op(s, (*C).RegisterDevice))
	mux.Handle("/api/v1/invite", op(s, (*C).Invite))
	mux.Handle("/api/v1/access/edit", op(s, (*C).EditAccess))
	mux.Handle("/api/v1/revoke", op(s, (*C).Revoke))
	mux.Handle("/api/v1/delete", op(s, (*C).Delete))
	mux.Handle("/api/v1/people", onSite(s, func(st *site, r console.PeopleRequest) ([]console.PersonView, error) {
		return st.console.People(r, s.acked(st))
	}))
	mux.Handle("/api/v1/people/show", onSite(s, func(st *site, r console.EmailRequest) (console.PersonView, error) {
		return st.console.Person(r, s.acked(st))
	}))
	mux.Handle("/api/v1/share", op(s, (*C).Share))
	mux.Handle("/api/v1/import", op(s, (*C).Import))
	mux.Handle("/api/v1/keycard", op(s, (*C).SetKeycard))
	mux.Handle("/api/v1/tour/allowlist", op(s, (*C).AllowlistKey))
	mux.Handle("/api/v1/tour/create", op(s, (*C).CreateTour))
	mux.Handle("/api/v1/doorcode", op(s, (*C).Doorcode))
	mux.Handle("/api/v1/report/assigned-access", op(s, func(c *C, _ struct{}) ([]console.AssignedAccess, error) {
		return c.ReportAssignedAccess()
	}))
	mux.Handle("/api/v1/unlock", onSite(s, s.unlock))
	mux.Handle("/api/v1/activity", onSite(s, s.activity))
	mux.Handle("/api/v1/pending", onSite(s, s.pending))
	mux.Handle("/api/v1/doors", onSite(s, s.doors))
	return s.auth(mux)
}

// acked is the site's lowest acknowledged version, for "pending".
func (s *Server) acked(st *site) console.AckedVersion {
	id := st.id()
	return func() (uint64, bool) { return s.ackedVersion(id) }
}

func (s *Server) listSites(struct{}) ([]console.SiteView, error) {
	s.mu.Lock()
	sites := append([]*site(nil), s.sites...)
	s.mu.Unlock()
	out := []console.SiteView{}
	for _, st := range sites {
		if v, err := st.console.Site(); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			writeErr(w, &APIError{Status: http.StatusUnauthorized, Message: "a valid token is required (server.json in the state directory)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HubAdd registers a hub.
type HubAdd struct {
	ID        string `json:"id"`
	RadioPort string `json:"radio_port,omitempty"`
	StateDir  string `json:"state_dir,omitempty"`
	Listen    string `json:"listen,omitempty"`
	Broker    string `json:"broker,omitempty"` // the hubs' broker URL when it differs from the server's
}

// HubConfig is a registered hub and its doorhubd config.
type HubConfig struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
	Config    string `json:"config"` // YAML
}

func (s *Server) addHub(st *site, r HubAdd) (HubConfig, error) {
	siteID := st.id()
	if siteID == "" {
		return HubConfig{}, console.ErrNoSite
	}
	id := strings.TrimSpace(r.ID)
	if id == "" || strings.ContainsAny(id, "/+# ") || len(id) > hub.MaxIDLength {
		return HubConfig{}, fmt.Errorf("%w: --id %q: a hub id of letters, digits, '-', '_' and '.'", console.ErrInvalid, r.ID)
	}
	cfg := config.Default()
	cfg.HubID = id
	if r.RadioPort != "" {
		cfg.Radio.Port = r.RadioPort
	}
	if r.StateDir != "" {
		cfg.StateDir = r.StateDir
	}
	if r.Listen != "" {
		cfg.Status.Listen = r.Listen
	}
	cfg.Cloud.Broker = s.opts.Broker
	if r.Broker != "" {
		cfg.Cloud.Broker = r.Broker
	}
	cfg.Cloud.ClientID = id // the protocol requires the hub id
	cfg.Cloud.PublicKey = s.PublicKey()
	if cfg.Cloud.Broker == "" {
		return HubConfig{}, fmt.Errorf("%w: the server runs without --broker; give the hubs' broker with --broker", console.ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return HubConfig{}, fmt.Errorf("%w: %v", console.ErrInvalid, err)
	}
	y, err := yaml.Marshal(&cfg)
	if err != nil {
		return HubConfig{}, err
	}
	s.mu.Lock()
	if h := s.hubs[id]; h != nil && h.Site != siteID {
		s.mu.Unlock()
		return HubConfig{}, fmt.Errorf("%w: hub %q serves site %q", console.ErrConflict, id, h.Site)
	}
	if s.hubs[id] == nil {
		if err := s.store.SetValue(hubKey+id, []byte(siteID)); err != nil {
			s.mu.Unlock()
			return HubConfig{}, err
		}
		s.hubs[id] = &hubState{ID: id, Site: siteID}
	}
	s.mu.Unlock()
	s.attach(id)
	return HubConfig{ID: id, PublicKey: s.PublicKey(),
		Config: "# doorhubd config for hub " + id + ", made by doorhub-cloud hub add\n" + string(y)}, nil
}

// HubView is a hub as the server knows it.
type HubView struct {
	ID           string `json:"id"`
	Site         string `json:"site"`
	Acked        uint64 `json:"acked_version"`
	Version      uint64 `json:"version"`
	State        string `json:"state,omitempty"`
	ClockTrusted bool   `json:"clock_trusted,omitempty"`
}

func (s *Server) listHubs(st *site, _ struct{}) ([]HubView, error) {
	siteID := st.id()
	s.ackedVersion(siteID)
	out := []HubView{}
	for _, id := range s.hubIDs(siteID) {
		v := HubView{ID: id, Site: siteID, Version: st.store.Version()}
		s.mu.Lock()
		v.Acked = s.hubs[id].acked
		s.mu.Unlock()
		if s.cloud != nil {
			if hv := s.cloud.Hub(id).View(); hv.Status != nil {
				v.State = string(hv.Status.State)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// UnlockRequest opens a door remotely.
type UnlockRequest struct {
	Door string `json:"door"`
	// Wait is how long to wait for the hub's reply (10 s when 0).
	WaitSeconds int `json:"wait_seconds,omitempty"`
}

// UnlockResult is each hub's answer.
type UnlockResult struct {
	Door    string            `json:"door"`
	Replies []cloudlink.Reply `json:"replies"`
	Message string            `json:"message"`
}

func (s *Server) unlock(st *site, r UnlockRequest) (UnlockResult, error) {
	var door *hub.Door
	var err error
	hubs := s.hubIDs(st.id())
	st.store.View(func(cat *hub.Catalog) {
		door = cat.Door(r.Door)
		if door == nil {
			for _, d := range cat.Doors() {
				if strings.EqualFold(d.Name, r.Door) {
					door = d
				}
			}
		}
	})
	if door == nil {
		return UnlockResult{}, fmt.Errorf("%w: door %q", console.ErrNotFound, r.Door)
	}
	if s.cloud == nil || len(hubs) == 0 {
		return UnlockResult{}, fmt.Errorf("%w: no hub is connected (hub add, --broker)", console.ErrConflict)
	}
	wait := time.Duration(r.WaitSeconds) * time.Second
	if wait <= 0 {
		wait = 10 * time.Second
	}
	out := UnlockResult{Door: door.ID, Replies: []cloudlink.Reply{}}
	for _, id := range hubs {
		ch := s.cloud.Hub(id)
		cmd, uerr := ch.Unlock(door.ID, "doorhub-cloud", 0)
		if uerr != nil {
			err = uerr
			continue
		}
		v, ok := ch.Wait(wait, func(v *cloudlink.HubView) bool {
			for _, rp := range v.Replies {
				if rp.Command == cmd {
					return true
				}
			}
			return false
		})
		if !ok {
			out.Replies = append(out.Replies, cloudlink.Reply{Command: cmd, Type: cloudlink.TypeUnlock, Status: "no_reply"})
			continue
		}
		for _, rp := range v.Replies {
			if rp.Command == cmd {
				out.Replies = append(out.Replies, rp)
			}
		}
	}
	if err != nil && len(out.Replies) == 0 {
		return out, err
	}
	out.Message = "door " + door.ID + ":"
	for _, rp := range out.Replies {
		out.Message += " " + rp.Status
		if rp.Reason != "" {
			out.Message += " (" + rp.Reason + ")"
		}
	}
	return out, nil
}

// ActivityRequest lists activity.
type ActivityRequest struct {
	Door string `json:"door,omitempty"`
	// After lists only events stored after this cursor (from a previous
	// answer), for --follow.
	After string `json:"after,omitempty"`
}

// ActivityView is one event as the console shows it, with the privacy
// rule the hub applied: a resident at their residence door has no name.
type ActivityView struct {
	ID         string    `json:"id"`
	Hub        string    `json:"hub"`
	At         time.Time `json:"at"`
	Door       string    `json:"door"`
	Kind       string    `json:"kind"`
	Visibility string    `json:"visibility"`
	Credential string    `json:"credential,omitempty"`
	Allowed    *bool     `json:"allowed,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Email      string    `json:"email,omitempty"`
	Host       string    `json:"host,omitempty"`
	Service    string    `json:"service,omitempty"`
	Tour       string    `json:"tour,omitempty"`
	// DecidedByLock is set when the lock decided alone, offline: the
	// lock, its counter, its own clock and the deciding entry reference.
	DecidedByLock *cloudlink.LockDecided `json:"decided_by_lock,omitempty"`
	Cursor        string                 `json:"cursor"`
}

func (s *Server) activity(st *site, r ActivityRequest) ([]ActivityView, error) {
	s.storeActivity()
	mine := map[string]bool{}
	for _, id := range s.hubIDs(st.id()) {
		mine[id] = true
	}
	vals, err := s.store.Values(activityKey)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		if k > r.After {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := []ActivityView{}
	for _, k := range keys {
		var se storedEvent
		if json.Unmarshal(vals[k], &se) != nil {
			continue
		}
		ev := se.Event
		if !mine[se.Hub] || r.Door != "" && !strings.EqualFold(ev.Door, r.Door) {
			continue
		}
		v := ActivityView{ID: ev.ID, Hub: se.Hub, At: ev.At, Door: ev.Door, Kind: string(ev.Kind),
			Visibility: string(ev.Visibility), Cursor: k}
		if a := ev.Access; a != nil {
			allowed := a.Allowed
			v.Allowed, v.Reason, v.Credential, v.Subject = &allowed, string(a.Reason), string(a.Credential), string(a.Subject)
			v.Service, v.Tour = a.Service, a.TourID
			if a.PersonID != "" {
				v.Email, _ = st.console.PersonName(a.PersonID)
			}
			if a.HostID != "" {
				v.Host, _ = st.console.PersonName(a.HostID)
			}
		}
		if ev.Remote != nil {
			v.Subject = "remote:" + ev.Remote.By
		}
		v.DecidedByLock = ev.DecidedByLock
		out = append(out, v)
	}
	return out, nil
}
