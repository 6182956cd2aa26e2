package hub

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Store holds the credential set at a version. Implementations: MemStore
// (memory only, for tests and tools) and hub/badgerstore (durable). Both
// pass the contract suite in hub/storetest.
type Store interface {
	Reader
	FloorStore
	// Version is the version of the set the store holds; 0 when empty.
	Version() uint64
	// Apply applies a batch atomically on top of the store's version.
	// It returns an error wrapping ErrInvalid, ErrWrongSite, ErrNotFound
	// or ErrConflict for a bad batch, ErrStaleBatch when the batch's
	// version is not newer, ErrVersionGap when its base is not the
	// store's version; in each case nothing changed.
	Apply(ctx context.Context, b *Batch) error
	// BeginSnapshot starts replacing the whole set with the set at
	// version. Nothing changes until Commit.
	BeginSnapshot(ctx context.Context, site string, version uint64) (SnapshotWriter, error)
	Close() error
}

// SnapshotWriter receives a snapshot in chunks.
type SnapshotWriter interface {
	// Add adds puts to the snapshot, in dependency order across chunks.
	Add(ops []Op) error
	// Commit swaps the snapshot in atomically.
	Commit() error
	// Abort drops the snapshot; the store keeps its set.
	Abort()
}

// Replace replaces a store's set with a whole snapshot at once.
func Replace(ctx context.Context, s Store, snap *Snapshot) error {
	w, err := s.BeginSnapshot(ctx, snap.Site, snap.Version)
	if err != nil {
		return err
	}
	if err := w.Add(snap.Ops); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// CheckBatch checks a batch against a store's version and site: the
// version rules every Store applies before touching its set.
func CheckBatch(b *Batch, version uint64, site *Site) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if site != nil && site.ID != b.Site {
		return fmt.Errorf("%w: the store holds site %q, the batch is for %q", ErrWrongSite, site.ID, b.Site)
	}
	if b.Version <= version {
		return fmt.Errorf("%w: batch version %d, store at %d", ErrStaleBatch, b.Version, version)
	}
	if b.Base != version {
		return fmt.Errorf("%w: batch built on version %d, store at %d", ErrVersionGap, b.Base, version)
	}
	return nil
}

// CheckSnapshotStart checks the start of a snapshot against a store.
func CheckSnapshotStart(site string, version, current uint64) error {
	if err := validateID("snapshot.site", site); err != nil {
		return err
	}
	if version == 0 {
		return invalid("snapshot.version", version, "must be at least 1")
	}
	if version < current {
		return fmt.Errorf("%w: snapshot version %d, store at %d", ErrStaleBatch, version, current)
	}
	return nil
}

// MemStore is a Store in memory: no durability. It is the reference the
// durable store is tested against and the store of tools and tests.
type MemStore struct {
	mu      sync.RWMutex
	cat     *Catalog
	version uint64
	floor   time.Time
	closed  bool
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{cat: NewCatalog()} }

// View calls fn with the catalog under a read lock.
func (m *MemStore) View(fn func(*Catalog)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	fn(m.cat)
}

// Version implements Store.
func (m *MemStore) Version() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

// Apply implements Store.
func (m *MemStore) Apply(ctx context.Context, b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := CheckBatch(b, m.version, m.cat.Site()); err != nil {
		return err
	}
	if _, err := m.cat.Apply(b.Site, b.Ops); err != nil {
		return err
	}
	m.version = b.Version
	return nil
}

// BeginSnapshot implements Store.
func (m *MemStore) BeginSnapshot(ctx context.Context, site string, version uint64) (SnapshotWriter, error) {
	if err := CheckSnapshotStart(site, version, m.Version()); err != nil {
		return nil, err
	}
	return &memSnapshot{m: m, site: site, version: version, cat: NewCatalog()}, nil
}

type memSnapshot struct {
	m       *MemStore
	site    string
	version uint64
	cat     *Catalog
	err     error
}

func (s *memSnapshot) Add(ops []Op) error {
	if s.err != nil {
		return s.err
	}
	if err := s.cat.Load(s.site, ops); err != nil {
		s.err = err
		return err
	}
	return nil
}

func (s *memSnapshot) Commit() error {
	if s.err != nil {
		return s.err
	}
	if s.cat.Site() == nil {
		return invalid("snapshot.ops", nil, "a snapshot must hold the site")
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.closed {
		return ErrClosed
	}
	if s.version < s.m.version {
		return fmt.Errorf("%w: snapshot version %d, store at %d", ErrStaleBatch, s.version, s.m.version)
	}
	// First uses of codes that survive the swap are kept.
	s.cat.Supersede(s.m.cat)
	s.m.cat, s.m.version = s.cat, s.version
	return nil
}

func (s *memSnapshot) Abort() { s.err = fmt.Errorf("snapshot aborted") }

// RecordFirstUse implements Reader; the earliest use is kept.
func (m *MemStore) RecordFirstUse(codeID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.cat.FirstUse(codeID); (!ok || at.Before(u)) && m.cat.GuestCode(codeID) != nil {
		m.cat.SetFirstUse(codeID, at)
	}
	return nil
}

// LoadFloor implements FloorStore.
func (m *MemStore) LoadFloor() (time.Time, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.floor, nil
}

// SaveFloor implements FloorStore; the floor never goes down.
func (m *MemStore) SaveFloor(t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.floor) {
		m.floor = t
	}
	return nil
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
