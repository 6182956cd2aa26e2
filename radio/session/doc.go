// Package session is the hub's side of its paired locks: one session per
// lock between the radio (a Transport: radio/serialport) and the hub's
// decisions (hub.Engine), with the lock's pairing, counters, state and the
// messages waiting for it. docs/radio-protocol.md, sections 9 and 10,
// specifies what it does.
//
// # Guarantees
//
//   - Each lock's messages are handled in order, one at a time; different
//     locks in parallel, so that a slow write for one lock does not hold up
//     another's decision.
//   - An access request is decided from the store at the hub's Clock.Now
//     and answered with a Decision naming the request's counter; the
//     decision goes to Activity after the lock has its answer.
//   - A door event or offline decision is acknowledged (EventAck) only
//     after Activity.LockEvent stored it, and never past an event that
//     failed to store: the lock keeps what the hub does not have.
//   - A lock's clock counts towards the hub's time (Clock.ObserveLockClock)
//     only when the lock says it was set; a lock whose clock is off gets a
//     TimeSync when the hub's clock is trusted.
//   - Envelopes of unpaired locks, forgeries, replays, reflections and
//     malformed messages are dropped and counted (Stats, per lock in
//     LockStatus); a replay is answered with the hub's CounterFloor at most
//     once per FloorEvery per lock, since a replay may be an attacker's.
//   - Messages for a lock (DoorAssign after pairing and hello, TimeSync,
//     Command) wait until it is awake — it spoke within AwakeWindow — and
//     are sent again at its next wake when the coprocessor reports them
//     undelivered or no answer came within ResendAfter.
//   - Counters and pairings live in the Store: a restart resumes above
//     every counter used. Pairing a lock with a new key starts its counters
//     over.
//   - Close stops every goroutine; pending Commands fail with ErrClosed.
package session
