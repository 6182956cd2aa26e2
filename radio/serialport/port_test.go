package serialport

import (
	"errors"
	"testing"

	"github.com/creack/pty"
)

func TestOpenPortIsExclusive(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	p, err := OpenPort(tty.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPort(tty.Name(), 115200); !errors.Is(err, ErrBusy) {
		t.Fatalf("second open: %v, want ErrBusy", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = OpenPort(tty.Name(), 115200)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	// Bytes flow both ways.
	if _, err := ptmx.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	n, err := p.Read(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	p.Close()
}

func TestOpenPortErrors(t *testing.T) {
	if _, err := OpenPort("/dev/doorhub-no-such-radio", 115200); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing device: %v", err)
	}
	if _, err := OpenPort("/dev/null", 115200); !errors.Is(err, ErrNotSerial) {
		t.Errorf("/dev/null: %v", err)
	}
}
