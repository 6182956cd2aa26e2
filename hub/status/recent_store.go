package status

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Values is where the recent activity is kept across restarts: small
// values under keys (the daemon's store; badgerstore.Store has these).
type Values interface {
	Value(key string) ([]byte, error) // nil, nil when absent
	SetValue(key string, value []byte) error
	DeleteValue(key string) error
	Values(prefix string) (map[string][]byte, error)
}

// The recent activity in a Values, in chunks of recentChunk events by ID:
//
//	status/recent/<chunk, 16 hex digits>  JSON [Event, ...]
//
// Events are stored as the endpoint serves them — the privacy rule
// applied, no credential secret — so nothing is on disk here that the
// endpoint would not show.
const (
	recentPrefix = "status/recent/"
	recentChunk  = 50
)

func recentKey(chunk uint64) string { return fmt.Sprintf("%s%016x", recentPrefix, chunk) }

func chunkOf(id uint64) uint64 { return (id - 1) / recentChunk }

// Restore loads the events Persist kept before a restart, the newest up
// to the Recent's size; IDs go on from the last one kept. Call it before
// the first Add.
func (r *Recent) Restore(kv Values) error {
	vals, err := kv.Values(recentPrefix)
	if err != nil {
		return err
	}
	var events []Event
	lowest, found := uint64(0), false
	for key, b := range vals {
		if c, err := strconv.ParseUint(strings.TrimPrefix(key, recentPrefix), 16, 64); err == nil && (!found || c < lowest) {
			lowest, found = c, true
		}
		var chunk []Event
		if err := json.Unmarshal(b, &chunk); err != nil {
			return fmt.Errorf("status: recent activity %s: %w", key, err)
		}
		events = append(events, chunk...)
	}
	slices.SortFunc(events, func(a, b Event) int { return compareID(a.ID, b.ID) })
	events = slices.CompactFunc(events, func(a, b Event) bool { return a.ID == b.ID })
	if len(events) > r.max {
		events = events[len(events)-r.max:]
	}
	for i := range events {
		redact(&events[i])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keptChunk = lowest
	if len(events) > 0 {
		r.events = append(events, r.events...)
		r.next = max(r.next, events[len(events)-1].ID+1)
		r.persisted = events[len(events)-1].ID
	}
	return nil
}

func compareID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// redact applies the privacy rule again to an event read back: identity
// only when the decision is visible.
func redact(e *Event) {
	if e.Visibility != "" && e.Visibility != "visible" {
		e.Person, e.Host, e.Service, e.Grant, e.GuestGrant, e.Tour = "", "", "", "", "", ""
	}
}

// Persist writes the events added since the last Persist (rewriting the
// chunks they fall in) and deletes the chunks no event kept falls in. A
// crash loses what came after the last Persist: this is a view for
// technicians; the outbox keeps the activity for the cloud.
func (r *Recent) Persist(kv Values) error {
	r.mu.Lock()
	newest := r.next - 1
	if newest == r.persisted {
		r.mu.Unlock()
		return nil
	}
	byChunk := map[uint64][]Event{}
	var oldest uint64
	if len(r.events) > 0 {
		oldest = r.events[0].ID
	}
	for _, e := range r.events {
		if e.ID > r.persisted || chunkOf(e.ID) == chunkOf(r.persisted+1) {
			byChunk[chunkOf(e.ID)] = append(byChunk[chunkOf(e.ID)], e)
		}
	}
	r.mu.Unlock()

	for c, events := range byChunk {
		b, err := json.Marshal(events)
		if err != nil {
			return err
		}
		if err := kv.SetValue(recentKey(c), b); err != nil {
			return err
		}
	}
	r.mu.Lock()
	from := r.keptChunk
	r.mu.Unlock()
	if oldest > 0 {
		for c := from; c < chunkOf(oldest); c++ {
			if err := kv.DeleteValue(recentKey(c)); err != nil {
				return err
			}
		}
		from = max(from, chunkOf(oldest))
	}
	r.mu.Lock()
	r.persisted, r.keptChunk = max(r.persisted, newest), from
	r.mu.Unlock()
	return nil
}
