package cloudlink

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestSealCutIsSeal: a chunk as cutSnapshot cut it seals to the same bytes
// through the fast path (ops written as they are) as through json.Marshal,
// HTML characters and non-ASCII text included.
func TestSealCutIsSeal(t *testing.T) {
	snap := &hub.Snapshot{Site: "s1", Version: 9, Ops: []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1",
		Name: "<Lindé & Court>", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}}}}
	for i := 0; i < 3000; i++ {
		p := fmt.Sprintf("p-%04d", i)
		snap.Ops = append(snap.Ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Name: "Jürgen \"<&>\" \u2028 " + p}})
	}
	cut, err := cutSnapshot(snap, MinChunkBytes)
	if err != nil {
		t.Fatal(err)
	}
	chunks := cut.chunks("snap-9-1")
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	s := NewSigner(ed25519.NewKeyFromSeed(seed))
	o := SealOptions{ID: "Tz8yU3iO6pA1sD4fG7hJ0k", IssuedAt: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)}
	for i := range chunks {
		slow, err := s.Seal("hub-0001", &chunks[i], o)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := s.sealCut("hub-0001", &chunks[i], o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(slow.Payload, fast.Payload) {
			t.Fatalf("chunk %d:\n%s\n%s", i, slow.Payload, fast.Payload)
		}
	}
}
