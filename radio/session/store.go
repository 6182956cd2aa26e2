package session

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Pairing is what the hub knows of a paired lock: its radio id, the key on
// its label, and the door it is mounted on.
type Pairing struct {
	Lock     lockmsg.LockID
	Key      lockmsg.Key
	Door     string
	PairedAt time.Time
}

// Store persists pairings and the message counters of each pairing. The
// daemon backs it with its database (NewKVStore over the Badger store).
type Store interface {
	lockmsg.CounterStore
	// Pairings returns every pairing.
	Pairings() ([]Pairing, error)
	// SavePairing stores p durably. When p's key differs from the one
	// stored, the lock's counters start over: they belong to a key.
	SavePairing(p Pairing) error
	// DeletePairing forgets a lock and its counters.
	DeletePairing(lock lockmsg.LockID) error
}

// KV is a small durable key/value store: Put is on disk when it returns.
// hub/badgerstore's Store is one (Value, SetValue, DeleteValue, Values).
type KV interface {
	Value(key string) ([]byte, error) // nil, nil when absent
	SetValue(key string, value []byte) error
	DeleteValue(key string) error
	Values(prefix string) (map[string][]byte, error)
}

// The radio's keys in a KV:
//
//	radio/pairing/<lock hex>          JSON {"key": hex, "door": id, "paired_at": time}
//	radio/counter/<lock hex>/send     4 bytes big-endian
//	radio/counter/<lock hex>/receive  4 bytes big-endian
const (
	kvPairing = "radio/pairing/"
	kvCounter = "radio/counter/"
)

type kvStore struct{ kv KV }

var _ Store = kvStore{}

// NewKVStore returns a Store over kv.
func NewKVStore(kv KV) Store { return kvStore{kv} }

type pairingJSON struct {
	Key      string    `json:"key"`
	Door     string    `json:"door"`
	PairedAt time.Time `json:"paired_at"`
}

func counterKey(lock lockmsg.LockID, kind lockmsg.CounterKind) string {
	return kvCounter + lock.Hex() + "/" + kind.String()
}

func (s kvStore) LoadCounter(lock lockmsg.LockID, kind lockmsg.CounterKind) (uint32, error) {
	b, err := s.kv.Value(counterKey(lock, kind))
	if err != nil || b == nil {
		return 0, err
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("session: %s counter of %s: %d bytes", kind, lock, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

func (s kvStore) StoreCounter(lock lockmsg.LockID, kind lockmsg.CounterKind, mark uint32) error {
	return s.kv.SetValue(counterKey(lock, kind), binary.BigEndian.AppendUint32(nil, mark))
}

func (s kvStore) Pairings() ([]Pairing, error) {
	m, err := s.kv.Values(kvPairing)
	if err != nil {
		return nil, err
	}
	var out []Pairing
	for _, k := range slices.Sorted(maps.Keys(m)) {
		id, err := lockmsg.ParseLockID(strings.TrimPrefix(k, kvPairing))
		if err != nil {
			return nil, fmt.Errorf("session: stored pairing %q: %v", k, err)
		}
		var j pairingJSON
		if err := json.Unmarshal(m[k], &j); err != nil {
			return nil, fmt.Errorf("session: stored pairing of %s: %v", id, err)
		}
		key, err := lockmsg.ParseKey(j.Key)
		if err != nil {
			return nil, fmt.Errorf("session: stored pairing of %s: %v", id, err)
		}
		out = append(out, Pairing{Lock: id, Key: key, Door: j.Door, PairedAt: j.PairedAt})
	}
	return out, nil
}

func (s kvStore) SavePairing(p Pairing) error {
	old, err := s.kv.Value(kvPairing + p.Lock.Hex())
	if err != nil {
		return err
	}
	var j pairingJSON
	if same := old != nil && json.Unmarshal(old, &j) == nil && j.Key == p.Key.Hex(); !same {
		if err := s.resetCounters(p.Lock); err != nil {
			return err
		}
	}
	b, err := json.Marshal(pairingJSON{Key: p.Key.Hex(), Door: p.Door, PairedAt: p.PairedAt.UTC()})
	if err != nil {
		return err
	}
	return s.kv.SetValue(kvPairing+p.Lock.Hex(), b)
}

func (s kvStore) resetCounters(lock lockmsg.LockID) error {
	for _, k := range []lockmsg.CounterKind{lockmsg.CounterSend, lockmsg.CounterReceive} {
		if err := s.kv.DeleteValue(counterKey(lock, k)); err != nil {
			return err
		}
	}
	return nil
}

func (s kvStore) DeletePairing(lock lockmsg.LockID) error {
	if err := s.kv.DeleteValue(kvPairing + lock.Hex()); err != nil {
		return err
	}
	return s.resetCounters(lock)
}

// MemoryKV is a KV in memory, for tests and tools.
type MemoryKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ KV = (*MemoryKV)(nil)

func (m *MemoryKV) Value(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.m[key]), nil
}

func (m *MemoryKV) SetValue(key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[key] = slices.Clone(value)
	return nil
}

func (m *MemoryKV) DeleteValue(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}

func (m *MemoryKV) Values(prefix string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = slices.Clone(v)
		}
	}
	return out, nil
}
