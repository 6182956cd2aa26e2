package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Plug is the simulated coprocessor's USB plug: a pseudo-terminal whose
// slave side is the hub's serial device, reached through a symlink at
// Path. Unplug closes it (the device vanishes, as a pulled USB radio's
// does); Replug makes a new one and points the symlink at it.
type Plug struct {
	sim  *Sim
	path string

	mu   sync.Mutex
	ptmx *os.File
	tty  *os.File
}

// NewPlug plugs the simulator in at path (a symlink, replaced if there).
func NewPlug(s *Sim, path string) (*Plug, error) {
	p := &Plug{sim: s, path: path}
	if err := p.Replug(); err != nil {
		return nil, err
	}
	return p, nil
}

// Path returns the symlink the hub opens.
func (p *Plug) Path() string { return p.path }

// Device returns the pseudo-terminal the symlink points at ("" while
// unplugged).
func (p *Plug) Device() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty == nil {
		return ""
	}
	return p.tty.Name()
}

// Replug makes a new pseudo-terminal, points the symlink at it and attaches
// the coprocessor. A no-op while plugged.
func (p *Plug) Replug() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ptmx != nil {
		return nil
	}
	ptmx, tty, err := openPTY()
	if err != nil {
		return fmt.Errorf("sim: pseudo-terminal: %w", err)
	}
	// Raw at once: before the hub opens the device (and sets it raw
	// itself), a cooked tty would echo the coprocessor's frames back to it.
	if err := makeRaw(int(tty.Fd())); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("sim: raw mode: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(p.path), "."+filepath.Base(p.path)+".new")
	_ = os.Remove(tmp)
	if err := os.Symlink(tty.Name(), tmp); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("sim: link: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("sim: link: %w", err)
	}
	// The simulator keeps the slave open too, so that the master's reads
	// do not fail while the hub has the device closed.
	p.ptmx, p.tty = ptmx, tty
	return p.sim.Attach(ptmx)
}

// Unplug detaches the coprocessor and closes the pseudo-terminal: the hub
// sees its port fail and the device vanish.
func (p *Plug) Unplug() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ptmx == nil {
		return
	}
	p.sim.Detach() // closes ptmx
	p.tty.Close()
	p.ptmx, p.tty = nil, nil
}

// Close unplugs and removes the symlink.
func (p *Plug) Close() {
	p.Unplug()
	_ = os.Remove(p.path)
}

// openPTY opens a pseudo-terminal whose master is in non-blocking mode
// under Go's poller, so that Close interrupts a pending Read and the
// slave side sees the hangup at once (pty.Open leaves it blocking, and a
// blocked Read would keep the descriptor open).
func openPTY() (master, slave *os.File, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer ptmx.Close()
	fd, err := unix.Dup(int(ptmx.Fd()))
	if err != nil {
		tty.Close()
		return nil, nil, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		tty.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), ptmx.Name()), tty, nil
}

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
