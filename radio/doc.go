// Package radio is the hub's side of the radio: how it talks to door locks
// through the radio coprocessor on a serial port. The protocol is
// docs/radio-protocol.md; the packages below implement it, bottom up, each
// importing only those before it:
//
//	radio/frame    serial framing: COBS, CRC-32C, resync on 0x00 (pure)
//	radio/link     reliable, ordered datagrams over the serial line
//	radio/lockmsg  hub<->lock messages, sealed with each lock's key (pure)
//	radio/coproc   the coprocessor's control envelopes (pure)
//	radio/serialport  the serial device: exclusive open, reconnect, recovery ladder
//	radio/session  the hub's side of each paired lock, deciding through hub.Engine
//	radio/sim      the coprocessor and simulated locks (doorhub-sim, tests)
//
// This package itself holds the test that keeps the protocol document's
// examples equal to what the code produces, and the benchmarks of the
// whole radio path over a pseudo-terminal.
package radio
