package hub

import "errors"

// Validation errors. A ValidationError wraps ErrInvalid and names the field.
var (
	// ErrInvalid is wrapped by every error about a malformed model value,
	// batch or snapshot.
	ErrInvalid = errors.New("invalid")
)

// Batch application errors.
var (
	// ErrVersionGap is returned by Apply when the batch's base version is
	// newer than the store's version: batches between them are missing.
	ErrVersionGap = errors.New("version gap")
	// ErrStaleBatch is returned by Apply when the batch's version is not
	// newer than the store's version (a duplicate or an old batch).
	ErrStaleBatch = errors.New("stale batch")
	// ErrWrongSite is returned when a batch or snapshot names another site.
	ErrWrongSite = errors.New("wrong site")
	// ErrNotFound is returned when an operation names a record that does
	// not exist: a delete of a missing record, or a put that refers to
	// one (a grant for an unknown key).
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when an operation clashes with another
	// record: an email or a phone's key that belongs to someone else, a
	// doorcode length that existing codes do not have.
	ErrConflict = errors.New("conflict")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("store closed")
)

// ValidationError names the field of a value that is wrong and why.
type ValidationError struct {
	Field  string // path of the field, e.g. "grant.expires_at"
	Value  any    // the offending value, nil when it must not be shown
	Reason string // what is wrong, e.g. "must be after starts_at"
}

func (e *ValidationError) Error() string {
	if e.Value == nil {
		return e.Field + ": " + e.Reason
	}
	return e.Field + ": " + e.Reason + " (got " + quoteValue(e.Value) + ")"
}

// Unwrap makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field string, value any, reason string) error {
	return &ValidationError{Field: field, Value: value, Reason: reason}
}
