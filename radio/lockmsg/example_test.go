package lockmsg_test

import (
	"fmt"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

func Example() {
	// Both ends hold the lock's pairing key and their own counter store.
	key := lockmsg.Key{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	const id lockmsg.LockID = 0xa1b2
	lock, _ := lockmsg.NewPairing(id, key, lockmsg.RoleLock, &lockmsg.MemoryCounterStore{}, lockmsg.PairingOptions{})
	hub, _ := lockmsg.NewPairing(id, key, lockmsg.RoleHub, &lockmsg.MemoryCounterStore{}, lockmsg.PairingOptions{})

	// The lock relays a keycard; the coprocessor wraps it in an envelope.
	sealed, counter, _ := lock.Seal(nil, &lockmsg.AccessRequest{Kind: lockmsg.CredKeycard, CardID: []byte{0x04, 0xa1, 0xb2, 0xc3}})
	wire := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: id, RSSI: -61, Sealed: sealed})

	// The hub opens it with the pairing the envelope names.
	env, _ := lockmsg.ParseEnvelope(wire)
	_, m, err := hub.Open(env.Sealed)
	fmt.Println(env.Lock, env.RSSI, m.Type(), err)

	// It answers, naming the request's counter; a replay is dropped.
	reply, _, _ := hub.Seal(nil, &lockmsg.Decision{Request: counter, Reason: lockmsg.ReasonAllowedByGrant, UnlockSeconds: 5})
	_, d, _ := lock.Open(reply)
	fmt.Println(d.(*lockmsg.Decision).Allowed(), d.(*lockmsg.Decision).Reason)
	_, _, err = hub.Open(env.Sealed)
	fmt.Println(err)
	// Output:
	// lock-0000a1b2 -61 access_request(0x03) <nil>
	// true allowed_by_grant
	// lockmsg: replayed message: access_request(0x03) counter 1, floor 1
}
