package storetest_test

import (
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// TestMemStore runs the contract against the in-memory reference store.
// It lives here because package hub cannot import storetest.
func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) hub.Store { return hub.NewMemStore() })
}
