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
		resp, err := fn(req)
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
	mux := http.NewServeMux()
	c := s.Console
	mux.Handle("/api/v1/site/create", handle(c.CreateSite))
	mux.Handle("/api/v1/site", handle(func(struct{}) (console.SiteView, error) { return c.Site() }))
	mux.Handle("/api/v1/door/add", handle(c.AddDoor))
	mux.Handle("/api/v1/key/create", handle(c.CreateKey))
	mux.Handle("/api/v1/hub/add", handle(s.addHub))
	mux.Handle("/api/v1/hubs", handle(s.listHubs))
	mux.Handle("/api/v1/device/register", handle(c.RegisterDevice))
	mux.Handle("/api/v1/invite", handle(c.Invite))
	mux.Handle("/api/v1/access/edit", handle(c.EditAccess))
	mux.Handle("/api/v1/revoke", handle(c.Revoke))
	mux.Handle("/api/v1/delete", handle(c.Delete))
	mux.Handle("/api/v1/people", handle(func(r console.PeopleRequest) ([]console.PersonView, error) {
		return c.People(r, s.ackedVersion)
	}))
	mux.Handle("/api/v1/people/show", handle(func(r console.EmailRequest) (console.PersonView, error) {
		return c.Person(r, s.ackedVersion)
	}))
	mux.Handle("/api/v1/share", handle(c.Share))
	mux.Handle("/api/v1/import", handle(c.Import))
	mux.Handle("/api/v1/keycard", handle(c.SetKeycard))
	mux.Handle("/api/v1/tour/allowlist", handle(c.AllowlistKey))
	mux.Handle("/api/v1/tour/create", handle(c.CreateTour))
	mux.Handle("/api/v1/doorcode", handle(c.Doorcode))
	mux.Handle("/api/v1/report/assigned-access", handle(func(struct{}) ([]console.AssignedAccess, error) {
		return c.ReportAssignedAccess()
	}))
	mux.Handle("/api/v1/unlock", handle(s.unlock))
	mux.Handle("/api/v1/activity", handle(s.activity))
	return s.auth(mux)
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

func (s *Server) addHub(r HubAdd) (HubConfig, error) {
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
	if s.hubs[id] == nil {
		if err := s.store.SetValue(hubKey+id, []byte(id)); err != nil {
			s.mu.Unlock()
			return HubConfig{}, err
		}
		s.hubs[id] = &hubState{ID: id}
	}
	s.mu.Unlock()
	s.attach(id)
	return HubConfig{ID: id, PublicKey: s.PublicKey(),
		Config: "# doorhubd config for hub " + id + ", made by doorhub-cloud hub add\n" + string(y)}, nil
}

// HubView is a hub as the server knows it.
type HubView struct {
	ID           string `json:"id"`
	Acked        uint64 `json:"acked_version"`
	Version      uint64 `json:"version"`
	State        string `json:"state,omitempty"`
	ClockTrusted bool   `json:"clock_trusted,omitempty"`
}

func (s *Server) listHubs(struct{}) ([]HubView, error) {
	s.ackedVersion()
	out := []HubView{}
	for _, id := range s.hubIDs() {
		v := HubView{ID: id, Version: s.store.Version()}
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

func (s *Server) unlock(r UnlockRequest) (UnlockResult, error) {
	var door *hub.Door
	var err error
	s.store.View(func(cat *hub.Catalog) {
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
	if s.cloud == nil || len(s.hubIDs()) == 0 {
		return UnlockResult{}, fmt.Errorf("%w: no hub is connected (hub add, --broker)", console.ErrConflict)
	}
	wait := time.Duration(r.WaitSeconds) * time.Second
	if wait <= 0 {
		wait = 10 * time.Second
	}
	out := UnlockResult{Door: door.ID, Replies: []cloudlink.Reply{}}
	for _, id := range s.hubIDs() {
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
	Cursor     string    `json:"cursor"`
}

func (s *Server) activity(r ActivityRequest) ([]ActivityView, error) {
	s.storeActivity()
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
		if r.Door != "" && !strings.EqualFold(ev.Door, r.Door) {
			continue
		}
		v := ActivityView{ID: ev.ID, Hub: se.Hub, At: ev.At, Door: ev.Door, Kind: string(ev.Kind),
			Visibility: string(ev.Visibility), Cursor: k}
		if a := ev.Access; a != nil {
			allowed := a.Allowed
			v.Allowed, v.Reason, v.Credential, v.Subject = &allowed, string(a.Reason), string(a.Credential), string(a.Subject)
			v.Service, v.Tour = a.Service, a.TourID
			if a.PersonID != "" {
				v.Email, _ = s.Console.PersonName(a.PersonID)
			}
			if a.HostID != "" {
				v.Host, _ = s.Console.PersonName(a.HostID)
			}
		}
		if ev.Remote != nil {
			v.Subject = "remote:" + ev.Remote.By
		}
		out = append(out, v)
	}
	return out, nil
}
