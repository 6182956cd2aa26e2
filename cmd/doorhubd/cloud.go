package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// openCloud opens the activity outbox (its own log in the store's
// directory) and the cloud link, when cloud.broker is configured, and
// points m.Activity at the outbox. Without a broker (installer mode)
// nothing is kept for a cloud.
func (m *Main) openCloud() error {
	c := m.Config.Cloud
	if c.Broker == "" {
		m.Log.Info("no cloud configured (cloud.broker): activity is not kept for one")
		return nil
	}
	if c.ClientID != "" && c.ClientID != m.Config.HubID {
		return fmt.Errorf("cloud.client_id %q: the protocol's client id is the hub id %q", c.ClientID, m.Config.HubID)
	}
	if c.TopicPrefix != cloudlink.Prefix {
		return fmt.Errorf("cloud.topic_prefix %q: this hub speaks %s", c.TopicPrefix, cloudlink.Prefix)
	}
	key, err := cloudlink.ParsePublicKey(c.PublicKey)
	if err != nil {
		return fmt.Errorf("cloud.public_key: %w", err)
	}
	outbox, err := m.Store.OpenLogOutbox(badgerstore.OutboxOptions{Logger: m.Log})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	m.Outbox = outbox
	m.Activity = hub.NewActivityLog(outbox)
	var reports cloudlink.Reports
	if m.DoorLists != nil {
		reports = doorReports{m}
	}
	client, err := cloudlink.NewClient(cloudlink.ClientOptions{
		HubID: m.Config.HubID, Broker: c.Broker, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
		Keys: []ed25519.PublicKey{key}, Store: m.Store, Clock: m.Clock, Outbox: m.remoteUnlocksSeen(outbox), State: outbox,
		Unlocker: remoteUnlocker{m}, Software: hub.Version, Logger: m.Log, Reports: reports,
	})
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	if err := client.Open(); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	m.Cloud = client
	if m.DoorLists != nil {
		m.pendingPub = startPendingPublisher(m.Store.Version, client.PublishPending, pendingInterval)
		m.DoorLists.OnChange(m.pendingPub.Kick)
		m.doorPub = startDoorStatePublisher(reports.Doors, client.PublishDoors, doorStateTimes)
		m.DoorLists.OnChange(m.doorPub.Kick)
	}
	return nil
}

// closeCloud stops the link (the offline status goes up), then the
// outbox, which stores what is waiting.
func (m *Main) closeCloud() error {
	var first error
	if m.pendingPub != nil {
		m.pendingPub.Close()
		m.pendingPub = nil
	}
	if m.doorPub != nil {
		m.doorPub.Close()
		m.doorPub = nil
	}
	if m.Cloud != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		first = m.Cloud.Close(ctx)
		cancel()
		m.Cloud = nil
	}
	if m.Outbox != nil {
		if err := m.Outbox.Close(); err != nil && first == nil {
			first = err
		}
		m.Outbox = nil
	}
	return first
}

// remoteUnlocker carries the cloud's remote unlocks to the door's lock.
type remoteUnlocker struct{ m *Main }

var _ cloudlink.Unlocker = remoteUnlocker{}

// defaultUnlockSeconds is the hold of an unlock that names none.
const defaultUnlockSeconds = 5

func (u remoteUnlocker) RemoteUnlock(ctx context.Context, door string, hold time.Duration) error {
	r := u.m.radioUp.Load() // not m.Radio: openRadio may be setting it
	if r == nil {
		return fmt.Errorf("%w: the radio is not open", cloudlink.ErrLockUnreachable)
	}
	for _, l := range r.Locks.Locks() {
		if l.Door != door {
			continue
		}
		id, err := lockmsg.ParseLockID(l.Lock)
		if err != nil {
			return fmt.Errorf("%w: %v", cloudlink.ErrLockUnreachable, err)
		}
		secs := uint16(min(max(hold/time.Second, 0), 3600))
		if secs == 0 {
			secs = defaultUnlockSeconds
		}
		res, err := r.Locks.Command(ctx, id, &lockmsg.RemoteUnlock{UnlockSeconds: secs})
		if err != nil {
			return fmt.Errorf("%w: %v", cloudlink.ErrLockUnreachable, err)
		}
		if res.Status != lockmsg.CommandDone {
			return fmt.Errorf("%w: the lock answered %s", cloudlink.ErrLockUnreachable, res.Status)
		}
		u.m.Log.Info("door opened remotely", slog.String("door", door), slog.String("lock", l.Lock))
		return nil
	}
	return fmt.Errorf("%w: no lock is paired to door %s", cloudlink.ErrLockUnreachable, door)
}
