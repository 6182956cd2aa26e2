package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

func TestAccessActivityPrivacy(t *testing.T) {
	at := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	d := hub.Decision{Door: "apt-3b", At: at, Kind: hub.CredKeycard, Allowed: true, Reason: hub.AllowedByGrant,
		ClockTrusted: true, Subject: hub.SubjectPerson, PersonID: "p-anna", GrantID: "g-1", DeviceID: "dev",
		Resident: true, Colliding: []string{"p-x"}, FirstUse: true, Visibility: hub.IdentityRemoved}
	a := hub.AccessActivity(d)
	k := a.Decision
	if k.PersonID != "" || k.GrantID != "" || k.DeviceID != "" || k.Resident || k.Colliding != nil || k.FirstUse ||
		!k.Allowed || k.Reason != hub.AllowedByGrant || k.Kind != hub.CredKeycard || a.Door != "apt-3b" || !a.ClockTrusted {
		t.Fatalf("identity_removed record %+v", k)
	}
	d.Visibility = hub.Visible
	if k := hub.AccessActivity(d).Decision; k.PersonID != "p-anna" || k.GrantID != "g-1" || !k.Resident {
		t.Fatalf("visible record %+v", k)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := hub.AccessActivity(d)
	bad.Decision.Visibility = hub.IdentityRemoved
	if err := bad.Validate(); !errors.Is(err, hub.ErrInvalid) {
		t.Fatalf("a record without identity that names a person: %v", err)
	}
}

func TestMemOutboxAndActivityLog(t *testing.T) {
	o := hub.NewMemOutbox("Zk3pW8qLrT2vNa6cXe1bHg")
	l := hub.NewActivityLog(o)
	now := hub.Now{Time: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), Trusted: true}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if seq, err := l.DoorEvent(ctx, "front", hub.ActivityLowBattery, now, 20); err != nil || seq != uint64(i+1) {
			t.Fatalf("%d %v", seq, err)
		}
	}
	if _, err := l.DoorEvent(ctx, "", hub.ActivityJam, now, -1); !errors.Is(err, hub.ErrInvalid) {
		t.Fatalf("record without a door: %v", err)
	}
	if err := o.Remove(2, 3); err != nil {
		t.Fatal(err)
	}
	recs, _ := o.Read(0, 10, 10)
	if len(recs) != 3 || recs[0].Seq != 1 || recs[1].Seq != 4 || *recs[1].BatteryPercent != 20 {
		t.Fatalf("records %+v", recs)
	}
	if first, next := o.Bounds(); first != 1 || next != 6 {
		t.Fatalf("bounds %d %d", first, next)
	}
	none := hub.NewActivityLog(nil)
	if _, err := none.DoorEvent(ctx, "front", hub.ActivityJam, now, -1); err != nil || none.Dropped() != 1 {
		t.Fatalf("a log without an outbox: %v, dropped %d", err, none.Dropped())
	}
}
