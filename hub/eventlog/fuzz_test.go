package eventlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeFrame: decoding never panics, and a frame that decodes
// encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, 7, 1, []byte("hello")), uint64(7))
	f.Add(AppendAck(nil, 7, 1, 9), uint64(7))
	f.Add(make([]byte, 40), uint64(0))
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 'a'}, uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, salt uint64) {
		seq, p, n, need, err := DecodeFrame(b, salt)
		switch {
		case err == nil:
			if n > len(b) || n != FrameOverhead+len(p) {
				t.Fatalf("n %d, payload %d, input %d", n, len(p), len(b))
			}
			if again := AppendFrame(nil, salt, seq, p); !bytes.Equal(again, b[:n]) {
				t.Fatalf("re-encoded %x, was %x", again, b[:n])
			}
		case errors.Is(err, errShort):
			if need <= len(b) {
				t.Fatalf("short with need %d of %d bytes", need, len(b))
			}
		case errors.Is(err, errEnd), errors.Is(err, ErrCorrupt):
		default:
			t.Fatalf("error %v", err)
		}
		if _, _, err := DecodeHeader(b); err != nil && !errors.Is(err, errEnd) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("header: %v", err)
		}
	})
}

// FuzzRecover damages the last segment of a log at any offset with any
// bytes, as a torn write or a bad sector would, and opens it: opening
// never fails or panics, what is read back is a run of the records
// written, in order, with their bytes, every record before the damage is
// there, and the log writes on and reopens with the same records.
func FuzzRecover(f *testing.F) {
	f.Add(uint16(0), []byte{})
	f.Add(uint16(40), []byte{1})
	f.Add(uint16(300), []byte("garbage garbage"))
	f.Add(uint16(1000), bytes.Repeat([]byte{0xff}, 64))
	f.Add(uint16(10), make([]byte, 30))
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		dir := t.TempDir()
		l, err := Open(dir, Options{SegmentSize: 4096, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, l, 150)
		l.mu.RLock()
		last := l.segs[len(l.segs)-1]
		path, base, end := last.path, last.base, last.end
		l.mu.RUnlock()
		l.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int(at) % len(b)
		b = append(b[:off], append(junk, b[min(off+len(junk), len(b)):]...)...)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err = Open(dir, Options{SegmentSize: 4096, Logger: quiet()})
		if err != nil {
			t.Fatalf("open after damage at %d: %v", off, err)
		}
		got := readSeqs(t, l)
		for i, s := range got {
			if s != uint64(i+1) {
				t.Fatalf("record %d has seq %d", i, s)
			}
		}
		if int64(off) >= end || len(junk) == 0 {
			if len(got) != 150 {
				t.Fatalf("damage past the frames (at %d, end %d): %d records", off, end, len(got))
			}
		} else if off >= HeaderSize && uint64(len(got)) < base-1 {
			t.Fatalf("damage in the last segment lost records before it: %d, base %d", len(got), base)
		}
		writeN(t, l, 3)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, err = Open(dir, Options{SegmentSize: 4096, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if again := readSeqs(t, l); fmt.Sprint(again[:len(got)]) != fmt.Sprint(got) || len(again) != len(got)+3 {
			t.Fatalf("reopen: %d records, then %d", len(got), len(again))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(files) > 0 {
			t.Fatalf("left %v", files)
		}
	})
}
