package cloudlink

import (
	"time"
)

// DoorsReport is the body of the retained "doors" message: the state of
// every door of the hub, as its lock last reported it and as the hub
// holds its list (docs/cloud-protocol.md § 7.5). It carries no credential
// secret and no resident's identity: nothing in it names a person.
type DoorsReport struct {
	At    time.Time   `json:"at"`
	Doors []DoorState `json:"doors"`
}

// DoorState is one door's state. Unknown values are left out.
type DoorState struct {
	Door string `json:"door"`
	// Lock is the radio id (8 hex digits) of the lock paired to the door; absent
	// when none is. Not a secret: it is printed on the lock's label.
	Lock string `json:"lock,omitempty"`
	// Reachable: the lock was heard from recently (within a few of its
	// heartbeats); the door is online.
	Reachable bool       `json:"reachable"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	Open      *bool      `json:"open,omitempty"`
	Locked    *bool      `json:"locked,omitempty"`
	// BatteryPercent is the lock's battery, 0 to 100; BatteryBand its
	// band (BatteryBandOf), which is what a report is sent for when it
	// changes.
	BatteryPercent *int        `json:"battery_percent,omitempty"`
	BatteryBand    BatteryBand `json:"battery_band,omitempty"`
	// List is what the lock holds of the list the hub computes for the
	// door: current, pending or drift (docs/door-lists.md).
	List ListState `json:"list,omitempty"`
	// Alarms active at the door: the door event kinds still in force.
	Alarms []EventKind `json:"alarms,omitempty"`
}

// BatteryBand is a coarse battery level: a report goes up when a door's
// band changes, not at every percent.
type BatteryBand string

// Battery bands.
const (
	BatteryOK       BatteryBand = "ok"       // 25 % or more
	BatteryLow      BatteryBand = "low"      // 10 to 24 %: replace soon
	BatteryCritical BatteryBand = "critical" // below 10 %: replace now
)

// BatteryBandOf is the band of a battery percentage; "" when unknown
// (negative).
func BatteryBandOf(percent int) BatteryBand {
	switch {
	case percent < 0:
		return ""
	case percent < 10:
		return BatteryCritical
	case percent < 25:
		return BatteryLow
	}
	return BatteryOK
}

// ListState says what a lock holds of its door's list.
type ListState string

// List states (docs/door-lists.md, "Pending").
const (
	// ListCurrent: the lock acknowledged the list the hub computes now.
	ListCurrent ListState = "current"
	// ListPending: the lock holds an older list the hub issued; the
	// pending report says what it lacks.
	ListPending ListState = "pending"
	// ListDrift: the lock reported a list the hub never issued (reset,
	// corrupted): a full reload is on its way, nothing is assumed.
	ListDrift ListState = "drift"
)

// MessageType implements Body.
func (*DoorsReport) MessageType() Type { return TypeDoors }

func (r *DoorsReport) check() error {
	if r.At.IsZero() {
		return schemaf("at is required")
	}
	for i := range r.Doors {
		d := &r.Doors[i]
		if err := checkName("doors[].door", d.Door); err != nil {
			return err
		}
		if d.BatteryPercent != nil && (*d.BatteryPercent < 0 || *d.BatteryPercent > 100) {
			return schemaf("door %s: battery_percent %d is not 0 to 100", d.Door, *d.BatteryPercent)
		}
		switch d.BatteryBand {
		case "", BatteryOK, BatteryLow, BatteryCritical:
		default:
			return schemaf("door %s: battery_band %q is not ok, low or critical", d.Door, d.BatteryBand)
		}
		switch d.List {
		case "", ListCurrent, ListPending, ListDrift:
		default:
			return schemaf("door %s: list %q is not current, pending or drift", d.Door, d.List)
		}
		if d.Lock != "" && !isLowerHex(d.Lock, 8) {
			return schemaf("door %s: lock %q is not 8 lowercase hex digits", d.Door, d.Lock)
		}
	}
	return nil
}

// PublishDoors queues a door-state report alone: r, or when r is nil the
// current one from Reports (the daemon calls it when a door's state
// changed). PublishReports sends it with the pending report.
func (c *Client) PublishDoors(r *DoorsReport) {
	if r == nil && c.opts.Reports != nil {
		r = c.opts.Reports.Doors()
	}
	if r != nil {
		c.queue(r)
	}
}

// PublishPending queues the current pending report alone (the daemon
// calls it when the set's version moved or a lock's list state changed),
// so the door-state report keeps its own pace (docs/cloud-protocol.md
// § 7.5).
func (c *Client) PublishPending() {
	if c.opts.Reports == nil {
		return
	}
	if p := c.opts.Reports.Pending(); p != nil {
		c.queue(p)
	}
}
