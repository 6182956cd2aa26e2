package console

import (
	"errors"
	"fmt"

	"github.com/doorhub/doorhub/hub"
)

// Errors returned by every operation, wrapped with what was wrong.
var (
	// ErrInvalid: the input is malformed or breaks a rule (a time in the
	// past, a code of the wrong length, a door type that does not exist).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: the input names a person, key, door or card that the
	// site does not have.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the operation contradicts the site's state (the site
	// already exists, a card belongs to someone else, the host may not
	// share).
	ErrConflict = errors.New("conflict")
	// ErrNoSite: no site was created yet.
	ErrNoSite = errors.New("no site: run site create first")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// Kind maps an error to one of the sentinels, for transports.
func Kind(err error) error {
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, hub.ErrInvalid):
		return ErrInvalid
	case errors.Is(err, ErrNotFound), errors.Is(err, hub.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, hub.ErrConflict), errors.Is(err, ErrNoSite):
		return ErrConflict
	}
	return nil
}
