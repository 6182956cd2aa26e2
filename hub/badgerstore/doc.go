// Package badgerstore is the durable hub.Store: the credential set in a
// Badger database (github.com/dgraph-io/badger/v4, imported nowhere
// else), indexed in memory by a hub.Catalog that decisions read.
//
// # Guarantees
//
//   - A batch is on disk, synced, when Apply returns nil: its changes
//     and the new version are one Badger transaction, or, when they do not
//     fit in one, a journal whose commit point is one transaction. After a
//     crash the store opens at the last committed version with exactly
//     the set of that version.
//   - A snapshot replaces the set atomically at Commit, with exactly the
//     records a fresh load of its chunks would give. One that differs
//     from the set in at most Options.SnapshotDiffMax records is compared
//     with it as it arrives and committed as a batch of the differences
//     (one transaction, or the journal), without a second catalog in
//     memory; batches applied while it arrives do not change its result
//     (copy on write). A larger one is written into a new generation of
//     keys as its chunks arrive and replaces the set in one synced
//     transaction. Until Commit readers, and batches, see the old set; an
//     aborted or interrupted snapshot leaves nothing but keys the store
//     removes in the background.
//   - Readers (View, and so hub.Engine.Decide) never see a batch or a
//     snapshot half applied, nor a batch the disk does not hold: Apply
//     holds the read lock out while it writes, so a decision can wait for
//     one fsync.
//   - A refused batch changes nothing, in memory or on disk. If the disk
//     refuses a valid batch, the catalog is reloaded from disk; should
//     that fail too, the store refuses writes (ErrBroken) until a restart.
//   - First uses of guest codes and the clock floor are synced before
//     they are visible.
//
// # Concurrency
//
// All methods are safe for concurrent use. Writers (Apply, snapshot
// Commit, RecordFirstUse, SaveFloor) are serialised; a snapshot's Add
// runs beside them, but while it compares a chunk with the set it holds
// the writers' lock (a batch waits for one chunk). Open starts two goroutines, the value log garbage
// collector and the reaper of dropped generations; Close stops both
// before closing the database.
//
// docs/store.md describes the key layout, the crash behaviour and the
// chosen Badger options.
package badgerstore
