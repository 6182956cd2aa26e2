package cloudlink

import (
	"github.com/doorhub/doorhub/hub"
)

// EventOf makes the activity event of a record of the hub's outbox: its id
// from the stream and the record's seq (so an event sent again after a
// crash keeps its id), the privacy rule applied once more by
// NewAccessEvent. It returns an error wrapping ErrSchema for a record that
// would not make a valid event.
func EventOf(stream string, a *hub.Activity) (ActivityEvent, error) {
	id := EventID(stream, a.Seq)
	var ev ActivityEvent
	switch a.Kind {
	case hub.ActivityAccess:
		if a.Decision == nil {
			return ev, schemaf("record %d: an access record without its decision", a.Seq)
		}
		ev = NewAccessEvent(id, a.Seq, *a.Decision)
		if l := a.Lock; l != nil {
			ev.DecidedByLock = &LockDecided{Lock: l.Lock, Seq: l.Seq, Clock: l.Clock.UTC()}
			if ev.Visibility == hub.Visible {
				ev.DecidedByLock.Entry = l.Entry
			}
		}
	case hub.ActivityRemoteUnlock:
		ev = NewRemoteUnlockEvent(id, a.Seq, a.Command, &Unlock{Door: a.Door, By: a.By}, a.At, a.ClockTrusted)
	case hub.ActivityOverflow:
		ev = ActivityEvent{ID: id, Seq: a.Seq, At: a.At.UTC(), ClockTrusted: a.ClockTrusted, Door: a.Door,
			Kind: EventOverflow, Visibility: hub.Visible}
		if a.Lost != nil {
			ev.Lost = &Lost{Count: a.Lost.Count, From: a.Lost.From.UTC(), To: a.Lost.To.UTC()}
		}
	default:
		ev = NewDoorEvent(id, a.Seq, a.Door, EventKind(a.Kind), a.At, a.ClockTrusted)
		if a.Kind == hub.ActivityLowBattery && a.BatteryPercent != nil {
			p := *a.BatteryPercent
			ev.BatteryPercent = &p
		}
	}
	return ev, ev.Validate()
}
