package badgerstore

import (
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
)

// SetValues stores several values at once, in as few transactions as
// Badger allows (one unless they are too big for one), in the order of
// keys; they are on disk (synced) when it returns nil. A caller that must
// see one value stored before another passes them in that order: a
// transaction boundary never puts a later key before an earlier one.
func (s *Store) SetValues(keys []string, values [][]byte) error {
	if len(keys) != len(values) {
		return fmt.Errorf("%w: %d keys, %d values", hub.ErrInvalid, len(keys), len(values))
	}
	for i, key := range keys {
		if key == "" || len(key) > MaxValueKey || len(values[i]) > MaxValueSize {
			return fmt.Errorf("%w: value %q of %d bytes", hub.ErrInvalid, key, len(values[i]))
		}
	}
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	for i := 0; i < len(keys); {
		txn := s.db.NewTransaction(true)
		start := i
		for ; i < len(keys); i++ {
			err := txn.Set(valueKey(keys[i]), slices.Clone(values[i]))
			if errors.Is(err, badger.ErrTxnTooBig) && i > start {
				break // the rest in the next transaction
			}
			if err != nil {
				txn.Discard()
				return fmt.Errorf("badgerstore: writing %s: %w", keys[i], err)
			}
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("badgerstore: writing %d values: %w", i-start, err)
		}
	}
	return nil
}
