//go:build !linux

package badgerstore

import "errors"

// ReleaseTablePages needs Linux's MADV_PAGEOUT; elsewhere it does nothing.
func (s *Store) ReleaseTablePages() (int64, error) {
	return 0, errors.New("badgerstore: releasing table pages needs Linux")
}
