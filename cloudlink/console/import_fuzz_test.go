package console

import (
	"errors"
	"testing"
)

// FuzzImport: any file either applies as a whole or is refused with
// ErrInvalid and changes nothing; it never panics.
func FuzzImport(f *testing.F) {
	f.Add("email,name,method,keys,resident,may_share,start,expires\nann@example.com,Ann,app,Building;Apt 4B,yes,no,,\n")
	f.Add("email,keys\nANN@example.com,Building\nann@example.com,Building\n")
	f.Add("email,keys\n\"unterminated,Building\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, file string) {
		fx := newFixture(t)
		before := fx.store.Version()
		r, err := fx.c.Import(Import{CSV: file})
		switch {
		case err != nil:
			if !errors.Is(Kind(err), ErrInvalid) && !errors.Is(Kind(err), ErrNotFound) && !errors.Is(Kind(err), ErrConflict) {
				t.Fatalf("an import refused with an undocumented error: %v", err)
			}
			if fx.store.Version() != before {
				t.Fatal("a refused import changed the site")
			}
		case r.Changed && fx.store.Version() != before+1:
			t.Fatalf("an import applied as %d versions", fx.store.Version()-before)
		}
	})
}
