package badgerstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
)

// Small values of other components (the radio's pairings and message
// counters), beside the credential set in the same database:
//
//	k/<key>   a value, as given
//
// Keys are the caller's; a caller names its own prefix ("radio/...").
const prefixValues = "k/"

// MaxValueKey and MaxValueSize bound what SetValue takes: small state, not
// a second database.
const (
	MaxValueKey  = 256
	MaxValueSize = 64 << 10
)

func valueKey(key string) []byte { return []byte(prefixValues + key) }

// Value returns the value stored under key, or nil and no error if none is.
func (s *Store) Value(key string) ([]byte, error) {
	if !s.enter() {
		return nil, hub.ErrClosed
	}
	defer s.leave()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(valueKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading %s: %w", key, err)
	}
	return v, nil
}

// SetValue stores value under key; it is on disk (synced) when SetValue
// returns nil.
func (s *Store) SetValue(key string, value []byte) error {
	if key == "" || len(key) > MaxValueKey || len(value) > MaxValueSize {
		return fmt.Errorf("%w: value %q of %d bytes", hub.ErrInvalid, key, len(value))
	}
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(valueKey(key), value) }); err != nil {
		return fmt.Errorf("badgerstore: writing %s: %w", key, err)
	}
	return nil
}

// DeleteValue removes the value under key, if any.
func (s *Store) DeleteValue(key string) error {
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(valueKey(key)) }); err != nil {
		return fmt.Errorf("badgerstore: deleting %s: %w", key, err)
	}
	return nil
}

// Values returns every value whose key starts with prefix, by key.
func (s *Store) Values(prefix string) (map[string][]byte, error) {
	if !s.enter() {
		return nil, hub.ErrClosed
	}
	defer s.leave()
	out := map[string][]byte{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: valueKey(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[strings.TrimPrefix(string(it.Item().Key()), prefixValues)] = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: listing %s: %w", prefix, err)
	}
	return out, nil
}
