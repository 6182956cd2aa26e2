// Package hub is the domain of doorhub: the site model, the access
// decisions, time trust and the interfaces the adapters implement.
//
// It imports the standard library only. Adapters (the Badger store, the
// status endpoint, ...) live in subpackages and import hub, never the other
// way round.
//
// # Guarantees
//
//   - The credential set changes only through versioned batches (Batch) and
//     snapshots (Snapshot). A batch applies atomically on top of the version
//     it names or not at all; an invalid batch changes nothing and its error
//     says which operation and field is wrong.
//   - Decide is safe for concurrent use and reads only the in-memory index
//     (Catalog) that every Store keeps consistent with what it persisted.
//   - The decision rules are exactly those of docs/access-rules.md; every
//     Decision carries a Reason from the documented list.
package hub
