package serialport

import (
	"errors"
	"fmt"
	"os"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Errors of OpenPort.
var (
	// ErrBusy: another process holds the port (doorhubd twice, a terminal
	// program, ModemManager probing it). Nothing was changed on the port.
	ErrBusy = errors.New("serialport: port in use by another process")
	// ErrNotFound: no device at the path (unplugged, or the udev link is
	// not there yet).
	ErrNotFound = errors.New("serialport: no such device")
	// ErrNotSerial: the path is not a serial device.
	ErrNotSerial = errors.New("serialport: not a serial device")
)

// Port is an open serial port held exclusively by this process: an
// io.ReadWriteCloser whose Close unblocks a pending Read.
type Port struct {
	serial.Port
	lock *os.File // holds the flock for as long as the port is open
	path string
}

// OpenPort opens the serial device at path at baud, 8N1, raw, and holds it
// exclusively: an advisory flock(LOCK_EX) on the device (kept by every
// well-behaved program, also by root) and TIOCEXCL (the kernel refuses
// further opens by anyone without CAP_SYS_ADMIN). A second open of the same
// device fails with ErrBusy. Symlinks (/dev/serial/by-id/...,
// /dev/doorhub-radio) are followed, so the lock is on the device itself.
func OpenPort(path string, baud int) (*Port, error) {
	// The flock comes first, on a descriptor of our own that does not wait
	// for a modem's carrier, so that a busy port is refused before its
	// settings are touched.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV):
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	case errors.Is(err, unix.EBUSY):
		return nil, fmt.Errorf("%w: %s (the kernel refuses: exclusive mode)", ErrBusy, path)
	case err != nil:
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	lock := os.NewFile(uintptr(fd), path)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (locked)", ErrBusy, path)
		}
		return nil, fmt.Errorf("serialport: lock %s: %w", path, err)
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrNotSerial, path, err)
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		lock.Close()
		var pe *serial.PortError
		if errors.As(err, &pe) && pe.Code() == serial.PortBusy {
			return nil, fmt.Errorf("%w: %s", ErrBusy, path)
		}
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	// The library sets TIOCEXCL on its own descriptor and ignores a
	// failure; set it again so that a failure is seen. It is per tty, so
	// our descriptor does as well as the library's.
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		p.Close()
		lock.Close()
		return nil, fmt.Errorf("serialport: exclusive mode on %s: %w", path, err)
	}
	return &Port{Port: p, lock: lock, path: path}, nil
}

// Path returns the path the port was opened at.
func (p *Port) Path() string { return p.path }

// Close closes the port (unblocking a pending Read), clears exclusive mode
// and releases the lock.
func (p *Port) Close() error {
	err := p.Port.Close() // clears TIOCEXCL (TIOCNXCL) before closing
	if lerr := p.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
