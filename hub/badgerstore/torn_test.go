package badgerstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenAfterTornLogFiles: a kill between Badger creating a value log or
// memtable file and writing its header leaves an empty file; the store
// must still open, with its data (the crash test hit both at random).
func TestOpenAfterTornLogFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFloor(testFloor); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if len(vlogs) == 0 {
		t.Fatal("no value log file to follow")
	}
	torn := []string{filepath.Join(dir, "000099.vlog"), filepath.Join(dir, "00099.mem")}
	for _, p := range torn {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("open after a torn value log: %v", err)
	}
	defer s.Close()
	if f, _ := s.LoadFloor(); !f.Equal(testFloor) {
		t.Fatalf("floor %v, want %v", f, testFloor)
	}
	for _, p := range torn {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("torn file %s still there: %v", p, err)
		}
	}
}

var testFloor = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
