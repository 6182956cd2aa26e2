//go:build !linux

package eventlog

import "os"

func datasync(f *os.File) error { return f.Sync() }
