package main

import (
	"context"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

// openStatus starts the local endpoint on the configured socket and
// loopback address.
func (m *Main) openStatus() error {
	s, err := status.Open(status.Options{
		Listen: m.Config.Status.Listen, Socket: m.Config.Status.Socket, TokenFile: m.Config.Status.TokenFile,
		Checks: map[string]func() error{"store": func() error { return nil }, "radio": m.radioReady},
		Pairer: pairer{m}, Doors: m.doors, Logger: m.Log,
	})
	if err != nil {
		return err
	}
	m.Status = s
	return nil
}

func (m *Main) closeStatus() error {
	if m.Status == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.Status.Close(ctx)
	m.Status = nil
	return err
}
