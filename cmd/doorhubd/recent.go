package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

// recentKept is how many events the endpoint's recent activity keeps;
// recentFlush how often what came since is written to the store (a crash
// loses at most that much of this view; the outbox keeps the activity for
// the cloud).
const (
	recentKept  = 500
	recentFlush = 2 * time.Second
)

// openRecent makes the endpoint's recent activity, restored from the
// store so that a restart does not empty it, and keeps it there until
// ctx ends (a last write then, before the store closes).
func (m *Main) openRecent(ctx context.Context) {
	m.Recent = status.NewRecent(recentKept)
	if err := m.Recent.Restore(m.Store); err != nil {
		m.Log.Warn("recent activity not restored", slog.Any("err", err))
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(recentFlush)
		defer t.Stop()
		var failing string
		persist := func() {
			err := m.Recent.Persist(m.Store)
			switch {
			case err != nil && err.Error() != failing: // once per kind of failure
				failing = err.Error()
				m.Log.Warn("recent activity not persisted", slog.Any("err", err))
			case err == nil:
				failing = ""
			}
		}
		for {
			select {
			case <-ctx.Done():
				persist()
				return
			case <-t.C:
				persist()
			}
		}
	}()
}
