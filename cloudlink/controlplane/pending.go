package controlplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
)

// pendingKey keeps each hub's last pending report: cloud/pending/<hub>.
const pendingKey = "cloud/pending/"

// PendingRequest asks for the last pending report of a site's hubs.
type PendingRequest struct {
	// Hub names one hub; "" is every hub of the site.
	Hub string `json:"hub,omitempty"`
}

// PendingView is a hub's last pending report (PRODUCT.md, "Door updates
// and pending"): which doors' locks have not acknowledged their list.
type PendingView struct {
	Hub string `json:"hub"`
	// Received is false until the hub sent a report.
	Received bool      `json:"received"`
	At       time.Time `json:"at,omitzero"`
	// Version is the set version the hub's report reflects; SiteVersion
	// the site's. HubBehind: the hub has not applied the site's last
	// changes yet, so they are pending at every door they affect.
	Version     uint64            `json:"version"`
	SiteVersion uint64            `json:"site_version"`
	HubBehind   bool              `json:"hub_behind,omitempty"`
	Doors       []PendingDoorView `json:"doors"`
	// Keycards whose change is pending at some door (by reference, never
	// by card id), as the hub sent them.
	Keycards      []cloudlink.KeycardPending `json:"keycards,omitempty"`
	KeycardsTotal int                        `json:"keycards_total,omitempty"`
}

// PendingDoorView is one door's state in a pending report.
type PendingDoorView struct {
	Door string `json:"door"`
	Name string `json:"name,omitempty"`
	// Synced: the lock acknowledged the list of the report's version;
	// nothing is pending there.
	Synced        bool   `json:"synced"`
	Pending       int    `json:"pending"`
	SyncedVersion uint64 `json:"synced_version"`
	Overflow      int    `json:"overflow,omitempty"`
	// Oldest is when the oldest change not applied at the lock was made,
	// and OldestAgeSeconds its age when this answer was made (revocation
	// freshness).
	Oldest           *time.Time `json:"oldest,omitempty"`
	OldestAgeSeconds int64      `json:"oldest_age_seconds,omitempty"`
}

// keepPending keeps the last pending report a hub sent: in memory and,
// when it fits, in the store, so it survives a restart of the server
// before the hub's next report. Called with s.mu held.
//
// The cloud link keeps the last report by the hub's message order (not
// its clock, which may have been wrong); this mirrors it.
func (s *Server) keepPending(id string, st *hubState, rep *cloudlink.PendingReport) {
	if rep == nil {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil || bytes.Equal(b, st.pendingJSON) {
		return
	}
	st.pending, st.pendingJSON = rep, b
	if err := s.store.SetValue(pendingKey+id, b); err != nil {
		s.log.Warn("pending report kept in memory only", slog.String("hub", id), slog.Any("err", err))
	}
}

// loadPending reads a hub's stored pending report.
func (s *Server) loadPending(id string) *cloudlink.PendingReport {
	b, err := s.store.Value(pendingKey + id)
	if err != nil || b == nil {
		return nil
	}
	var rep cloudlink.PendingReport
	if json.Unmarshal(b, &rep) != nil {
		return nil
	}
	return &rep
}

func (s *Server) pending(st *site, r PendingRequest) ([]PendingView, error) {
	s.storeActivity()
	ids := s.hubIDs(st.id())
	if r.Hub != "" {
		found := false
		for _, id := range ids {
			found = found || id == r.Hub
		}
		if !found {
			return nil, fmt.Errorf("%w: no hub %q at this site (doorhub-cloud hubs lists them)", console.ErrNotFound, r.Hub)
		}
		ids = []string{r.Hub}
	}
	names := map[string]string{}
	st.store.View(func(c *hub.Catalog) {
		for _, d := range c.Doors() {
			names[d.ID] = d.Name
		}
	})
	now := s.opts.Now()
	siteVersion := st.store.Version()
	out := []PendingView{}
	for _, id := range ids {
		s.mu.Lock()
		rep := s.hubs[id].pending
		if rep == nil {
			rep = s.loadPending(id)
			s.hubs[id].pending = rep
		}
		s.mu.Unlock()
		v := PendingView{Hub: id, SiteVersion: siteVersion, Doors: []PendingDoorView{}}
		if rep != nil {
			v.Received, v.At, v.Version, v.HubBehind = true, rep.At, rep.Version, rep.Version < siteVersion
			v.Keycards, v.KeycardsTotal = rep.Keycards, rep.KeycardsTotal
			for _, d := range rep.Doors {
				dv := PendingDoorView{Door: d.Door, Name: names[d.Door], Pending: d.Pending, SyncedVersion: d.SyncedVersion,
					Overflow: d.Overflow, Oldest: d.Oldest,
					Synced: d.Pending == 0 && d.SyncedVersion != 0 && d.SyncedVersion == rep.Version}
				if d.Oldest != nil {
					dv.OldestAgeSeconds = int64(now.Sub(*d.Oldest) / time.Second)
				}
				v.Doors = append(v.Doors, dv)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// cardPending says where the last pending reports of a site's hubs have a
// keycard pending (console.Console.CardPending): the union of their doors,
// and the lowest version the reports reflect — 0 when a hub sent none, or
// left this card out of a report cut at cloudlink.MaxPendingKeycards (so
// the console counts it pending everywhere rather than nowhere).
func (s *Server) cardPending(siteID, ref string) ([]string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var doors []string
	lowest, any := ^uint64(0), false
	for id, st := range s.hubs {
		if st.Site != siteID {
			continue
		}
		any = true
		rep := st.pending
		if rep == nil {
			rep = s.loadPending(id)
			st.pending = rep
		}
		if rep == nil {
			return nil, 0
		}
		found := false
		for _, k := range rep.Keycards {
			if k.CardRef == ref {
				doors, found = append(doors, k.Doors...), true
			}
		}
		if !found && rep.KeycardsTotal > len(rep.Keycards) {
			return nil, 0
		}
		lowest = min(lowest, rep.Version)
	}
	if !any {
		return nil, 0
	}
	slices.Sort(doors)
	return slices.Compact(doors), lowest
}
