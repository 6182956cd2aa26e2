package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/doorhub/doorhub/hub"
)

var _ hub.ValueStore = (*Store)(nil)

// TestSetValues: many values, more than one transaction holds, all
// stored and read back after a reopen; a bad key refuses them all.
func TestSetValues(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	var keys []string
	var values [][]byte
	for i := range 400 {
		keys = append(keys, fmt.Sprintf("doorsync/acked/d%03d", i))
		values = append(values, bytes.Repeat([]byte{byte(i)}, MaxValueSize))
	}
	if err := s.SetValues(keys, values); err != nil {
		t.Fatal(err)
	}
	if err := s.SetValues([]string{"ok", ""}, [][]byte{{1}, {2}}); !errors.Is(err, hub.ErrInvalid) {
		t.Fatalf("an empty key: %v", err)
	}
	if v, _ := s.Value("ok"); v != nil {
		t.Fatal("a refused batch stored a value")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	got, err := s.Values("doorsync/acked/")
	if err != nil || len(got) != len(keys) {
		t.Fatalf("%d values back, %v", len(got), err)
	}
	for i, k := range keys {
		if !bytes.Equal(got[k], values[i]) {
			t.Fatalf("%s differs", k)
		}
	}
}
