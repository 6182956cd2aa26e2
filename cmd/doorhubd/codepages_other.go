//go:build !linux

package main

import "errors"

// releaseCodePages needs Linux's /proc and madvise.
func releaseCodePages() (int64, error) {
	return 0, errors.New("doorhubd: releasing code pages needs Linux")
}
