package lockmsg_test

import (
	"testing"

	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/lockmsg/lockmsgtest"
)

func TestMemoryCounterStoreContract(t *testing.T) {
	s := &lockmsg.MemoryCounterStore{}
	lockmsgtest.RunCounterStore(t,
		func(*testing.T) lockmsg.CounterStore { return s },
		func(*testing.T) lockmsg.CounterStore { return s })
}
