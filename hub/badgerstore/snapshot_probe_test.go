package badgerstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// TestSnapshotDiffProbe: a snapshot of the store's site whose first
// diffProbe records mostly differ is another set and falls back to a new
// generation as soon as that shows, well before SnapshotDiffMax; a
// resync (1 record in 100 changed) stays a diff to the end. Both commit
// what they hold.
func TestSnapshotDiffProbe(t *testing.T) {
	const n = 4000 // 12,000 people, grants and keycards
	for _, tt := range []struct {
		name     string
		set      synth
		fallback bool
	}{
		{"another set", synth{n: n, other: true}, true},
		{"a resync", synth{n: n, changeEvery: 100}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openTest(t, t.TempDir())
			defer func() { require.NoError(t, st.Close()) }()
			require.NoError(t, synth{n: n}.writeSnapshot(st, 1))
			sw, err := st.BeginSnapshot(context.Background(), storetest.SiteID, 2)
			require.NoError(t, err)
			w := sw.(*snapshot)
			fellBackAt := 0
			require.NoError(t, tt.set.chunks(500, func(ops []hub.Op) error {
				if err := w.Add(ops); err != nil {
					return err
				}
				if fellBackAt == 0 && w.diff == nil {
					fellBackAt = w.records
				}
				return nil
			}))
			require.NoError(t, w.Commit())
			if tt.fallback {
				require.NotZero(t, fellBackAt, "another set stayed a diff")
				require.LessOrEqual(t, fellBackAt, diffProbe+500, "fell back only after %d records", fellBackAt)
			} else {
				require.Zero(t, fellBackAt, "a resync fell back to a new generation")
			}
			want := hub.NewCatalog()
			require.NoError(t, tt.set.chunks(1000, func(ops []hub.Op) error { return want.Load(storetest.SiteID, ops) }))
			require.Equal(t, snapshotOf(want), snapshotOf(st.cat))
			require.Equal(t, uint64(2), st.Version())
		})
	}
}
