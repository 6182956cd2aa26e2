package cloudlink_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// The cloud seals a remote unlock for one hub; the hub, which pins the
// cloud's key, opens it once — and refuses it when it comes again.
func Example() {
	cloudKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // the cloud's secret
	issued := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)

	// Cloud side.
	signer := cloudlink.NewSigner(cloudKey)
	out, err := signer.Seal("hub-0001", &cloudlink.Unlock{Door: "front", By: "p-maria"},
		cloudlink.SealOptions{IssuedAt: issued})
	if err != nil {
		panic(err)
	}
	fmt.Println("publish on", out.Topic, "qos", out.QoS)

	// Hub side.
	v, err := cloudlink.NewVerifier("hub-0001", cloudlink.VerifierOptions{
		Keys: []ed25519.PublicKey{signer.PublicKey()},
	})
	if err != nil {
		panic(err)
	}
	now := hub.Now{Time: issued.Add(2 * time.Second), Trusted: true}
	msg, err := v.Open(out.Topic, out.Payload, now)
	if err != nil {
		panic(err)
	}
	if u, ok := msg.Body.(*cloudlink.Unlock); ok {
		fmt.Println("unlock", u.Door, "for", u.By, "until", msg.ExpiresAt.Format(time.TimeOnly))
	}
	_, err = v.Open(out.Topic, out.Payload, now)
	fmt.Println("again:", errors.Is(err, cloudlink.ErrReplay), cloudlink.ReasonOf(err))
	// Output:
	// publish on doorhub/v1/hubs/hub-0001/down/command qos 1
	// unlock front for p-maria until 18:01:00
	// again: true replay
}
