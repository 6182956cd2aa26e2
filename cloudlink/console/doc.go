// Package console is the domain of doorhub-cloud: the property manager's
// operations of the seed article (site setup, invite, access edit, revoke,
// delete, share, keycards, devices, tours, doorcodes, reports, CSV import)
// as functions that check their input, turn it into hub.Ops and apply them
// to the site's authoritative hub.Store as its next version.
//
// Guarantees:
//   - An operation either applies all its ops as one batch or changes
//     nothing: every input is checked first, and the store applies a batch
//     atomically (a CSV import is one batch for all its rows).
//   - The rules of access are never copied here: what a change means at a
//     door is decided by hub.Engine over the same store; the console only
//     builds records.
//   - People are named by email, case-insensitively.
//   - Operations are serialised by the console; OnCommit hears about each
//     applied batch in version order.
package console
