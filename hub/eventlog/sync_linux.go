package eventlog

import (
	"os"
	"syscall"
)

// datasync writes the file's data and what is needed to read it back
// (not its times) to the disk. A preallocated segment is written in
// place, so the size does not change and this is a data-only flush.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
