// Package serialport is the hub's radio coprocessor on its serial port, and
// the only package that imports go.bug.st/serial.
//
// OpenPort opens a device exclusively: an advisory flock on the device
// (which root respects too) and TIOCEXCL, so a second doorhubd, a terminal
// program or a stray probe gets ErrBusy instead of a share of the frames.
//
// Radio keeps the coprocessor: it opens the port (a path from the
// configuration: /dev/doorhub-radio, /dev/serial/by-id/..., /dev/serial0),
// runs a radio/link over it and hands envelopes up through Send and Recv.
//
// # Keeping the radio
//
//   - A port that fails or vanishes (unplugged: the link stops with
//     link.ErrPort) is opened again after a backoff that doubles from
//     MinBackoff (100 ms) to MaxBackoff (1 s), with jitter: a replugged
//     radio is back within about a second, and an absent one costs one
//     open a second and one log line every 30 attempts.
//   - The coprocessor is probed (coproc.VersionRequest) when a link opens
//     and every ProbeInterval (15 s). A probe not answered within
//     ProbeTimeout climbs the recovery ladder: first the port is closed
//     and opened again (RungReopen); if the coprocessor is still silent on
//     the new link it is told to restart (coproc.Reset, RungReset); if it
//     is silent after that too, the ladder starts over. Each rung is
//     logged and counted in Status.
//   - Send waits for a connection (bounded by its context) and tries again
//     on the next link when the port went down under it; the lock
//     messages' counters make a repeated envelope harmless.
//   - Close stops everything; no goroutine outlives it.
package serialport
