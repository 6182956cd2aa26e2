package controlplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
)

// doorsKey keeps each hub's last door-state report: cloud/doors/<hub>.
const doorsKey = "cloud/doors/"

// DoorsRequest asks for the last door-state report of a site's hubs.
type DoorsRequest struct {
	// Hub names one hub; "" is every hub of the site.
	Hub string `json:"hub,omitempty"`
}

// DoorsView is a hub's last door-state report (docs/cloud-protocol.md
// § 7.5): each door's lock, whether it is online, its battery and what it
// holds of its list.
type DoorsView struct {
	Hub string `json:"hub"`
	// Received is false until the hub sent a report.
	Received bool            `json:"received"`
	At       time.Time       `json:"at,omitzero"`
	Doors    []DoorStateView `json:"doors"`
}

// DoorStateView is one door in a door-state report, as the hub sent it,
// with the door's name and how long ago its lock was last heard from.
type DoorStateView struct {
	cloudlink.DoorState
	Name string `json:"name,omitempty"`
	// LastSeenAgeSeconds is the age of LastSeen when this answer was made.
	LastSeenAgeSeconds int64 `json:"last_seen_age_seconds,omitempty"`
}

// keepDoors keeps the last door-state report a hub sent, in memory and in
// the store (so it survives a restart of the server before the hub's
// next report), as keepPending does. Called with s.mu held.
func (s *Server) keepDoors(id string, st *hubState, rep *cloudlink.DoorsReport) {
	if rep == nil {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil || bytes.Equal(b, st.doorsJSON) {
		return
	}
	st.doors, st.doorsJSON = rep, b
	if err := s.store.SetValue(doorsKey+id, b); err != nil {
		s.log.Warn("door-state report kept in memory only", slog.String("hub", id), slog.Any("err", err))
	}
}

// loadDoors reads a hub's stored door-state report.
func (s *Server) loadDoors(id string) *cloudlink.DoorsReport {
	b, err := s.store.Value(doorsKey + id)
	if err != nil || b == nil {
		return nil
	}
	var rep cloudlink.DoorsReport
	if json.Unmarshal(b, &rep) != nil {
		return nil
	}
	return &rep
}

// siteHubs is the site's hubs, or the one named (ErrNotFound when the
// site has no such hub).
func (s *Server) siteHubs(st *site, one string) ([]string, error) {
	ids := s.hubIDs(st.id())
	if one == "" {
		return ids, nil
	}
	for _, id := range ids {
		if id == one {
			return []string{one}, nil
		}
	}
	return nil, fmt.Errorf("%w: no hub %q at this site (doorhub-cloud hubs lists them)", console.ErrNotFound, one)
}

func (s *Server) doors(st *site, r DoorsRequest) ([]DoorsView, error) {
	s.storeActivity()
	ids, err := s.siteHubs(st, r.Hub)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	st.store.View(func(c *hub.Catalog) {
		for _, d := range c.Doors() {
			names[d.ID] = d.Name
		}
	})
	now := s.opts.Now()
	out := []DoorsView{}
	for _, id := range ids {
		s.mu.Lock()
		rep := s.hubs[id].doors
		if rep == nil {
			rep = s.loadDoors(id)
			s.hubs[id].doors = rep
		}
		s.mu.Unlock()
		v := DoorsView{Hub: id, Doors: []DoorStateView{}}
		if rep != nil {
			v.Received, v.At = true, rep.At
			for _, d := range rep.Doors {
				dv := DoorStateView{DoorState: d, Name: names[d.Door]}
				if d.LastSeen != nil {
					dv.LastSeenAgeSeconds = max(int64(now.Sub(*d.LastSeen)/time.Second), 0)
				}
				v.Doors = append(v.Doors, dv)
			}
		}
		out = append(out, v)
	}
	return out, nil
}
