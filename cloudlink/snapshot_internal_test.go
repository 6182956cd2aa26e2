package cloudlink

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	chunks, err := SplitSnapshot(snap, "snap-9-1", MinChunkBytes)
	if err != nil {
		t.Fatal(err)
	}
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

// TestCutRuns: ops past the first run of cutRun are cut too, in order,
// every chunk within its size, an oversize op named by its index in the
// whole snapshot.
func TestCutRuns(t *testing.T) {
	snap := &hub.Snapshot{Site: "s1", Version: 9, Ops: []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1",
		Name: "S", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}}}}
	for i := 0; i < 2*cutRun+100; i++ {
		snap.Ops = append(snap.Ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: fmt.Sprintf("p-%06d", i)}})
	}
	chunks, err := SplitSnapshot(snap, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, c := range chunks {
		if len(c.Ops) > DefaultChunkBytes-chunkOverhead {
			t.Fatalf("chunk %d: %d bytes", c.Index, len(c.Ops))
		}
		all = append(all, c.Ops[1:len(c.Ops)-1]...)
		all = append(all, ',')
	}
	var back []hub.Op
	if err := json.Unmarshal(append(append([]byte{'['}, all[:len(all)-1]...), ']'), &back); err != nil || len(back) != len(snap.Ops) {
		t.Fatalf("%d ops back of %d: %v", len(back), len(snap.Ops), err)
	}
	for i := range back {
		if back[i].Type != snap.Ops[i].Type || i > 0 && back[i].Person.ID != snap.Ops[i].Person.ID {
			t.Fatalf("op %d out of order", i)
		}
	}
	snap.Ops[cutRun+7].Person.Name = strings.Repeat("x", 5000)
	if _, err := SplitSnapshot(snap, "s", MinChunkBytes); !errors.Is(err, ErrOversize) || !strings.Contains(err.Error(), fmt.Sprintf("ops[%d]", cutRun+7)) {
		t.Fatalf("oversize op: %v", err)
	}
}
