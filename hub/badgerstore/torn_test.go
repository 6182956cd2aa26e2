package badgerstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenAfterTornValueLog: a kill between Badger creating a value log
// file and writing its header leaves an empty file; the store must still
// open, with its data (the crash test once hit this at random).
func TestOpenAfterTornValueLog(t *testing.T) {
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
	torn := filepath.Join(dir, "000099.vlog")
	if err := os.WriteFile(torn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("open after a torn value log: %v", err)
	}
	defer s.Close()
	if f, _ := s.LoadFloor(); !f.Equal(testFloor) {
		t.Fatalf("floor %v, want %v", f, testFloor)
	}
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("torn file still there: %v", err)
	}
}

var testFloor = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
