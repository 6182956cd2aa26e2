package hub

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"
)

// TestSnapshotCheckThenLoadEqualsLoad is the property a store that writes
// a snapshot to disk before loading it rests on: checking the chunks with
// a SnapshotCheck as they arrive, then loading the records they leave
// (the last value of each, kind by kind in dependency order, sorted by id:
// what a generation on disk gives back) takes exactly the snapshots a
// fresh catalog loading the chunks takes, holding the same set, and
// refuses the others — a refusal of the check with the load's very error.
// Snapshots are random sets over a small id space (diffWorld), some with
// a record missing, two out of order or a record twice.
func TestSnapshotCheckThenLoadEqualsLoad(t *testing.T) {
	rounds := 3000
	if testing.Short() {
		rounds = 500
	}
	w := diffWorld{rng: rand.New(rand.NewSource(3)), start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	rng := w.rng
	var taken, refusedByCheck, refusedByLoad int
	for round := 0; round < rounds; round++ {
		target := NewCatalog()
		if _, err := target.Apply("s", []Op{{Type: OpPutSite, Site: w.site()}}); err != nil {
			t.Fatal(err)
		}
		w.batches(target, 20+rng.Intn(60))
		snap := recordOps(target)
		twice := false
		switch rng.Intn(8) {
		case 0:
			if len(snap) > 0 {
				i := rng.Intn(len(snap))
				snap = append(snap[:i:i], snap[i+1:]...)
			}
		case 1:
			if len(snap) > 1 {
				i, j := rng.Intn(len(snap)), rng.Intn(len(snap))
				snap[i], snap[j] = snap[j], snap[i]
			}
		case 2:
			o := w.op()
			if _, ok := putField[o.Type]; ok {
				snap = append(snap, o)
				twice = true
			}
		case 3: // a site of another length after the codes
			s := w.site()
			s.DoorcodeLength = 7
			snap = append(snap, Op{Type: OpPutSite, Site: s})
		}

		fresh := NewCatalog()
		check := NewSnapshotCheck("s")
		latest := map[changeKey]Op{}
		var loadErr, checkErr error
		for len(snap) > 0 {
			n := min(len(snap), 1+rng.Intn(8))
			chunk := snap[:n]
			snap = snap[n:]
			if loadErr == nil {
				loadErr = fresh.Load("s", chunk)
			}
			if checkErr == nil {
				if checkErr = check.Add(chunk); checkErr == nil {
					for i := range chunk {
						latest[opKey(&chunk[i])] = chunk[i]
					}
				}
			}
		}
		if loadErr == nil && fresh.Site() == nil {
			loadErr = fmt.Errorf("no site")
		}
		if checkErr != nil {
			if loadErr == nil || loadErr.Error() != checkErr.Error() {
				t.Fatalf("round %d: the check refused the snapshot with %v, the load with %v", round, checkErr, loadErr)
			}
			refusedByCheck++
			continue
		}
		if !check.HasSite() {
			if loadErr == nil {
				t.Fatalf("round %d: the check lost the site", round)
			}
			refusedByCheck++
			continue
		}
		// What a generation on disk gives back.
		var keys []changeKey
		for k := range latest {
			keys = append(keys, k)
		}
		rank := map[Kind]int{}
		for i, k := range kindOrder {
			rank[k] = i
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].kind != keys[j].kind {
				return rank[keys[i].kind] < rank[keys[j].kind]
			}
			return keys[i].id < keys[j].id
		})
		var disk []Op
		for _, k := range keys {
			disk = append(disk, latest[k])
		}
		loaded := NewCatalog()
		diskErr := loaded.Load("s", disk)
		switch {
		case loadErr != nil && diskErr == nil && !twice:
			t.Fatalf("round %d: the load refused the snapshot (%v), check and load took it", round, loadErr)
		case loadErr == nil && diskErr != nil:
			t.Fatalf("round %d: the load took the snapshot, check and load refused it: %v", round, diskErr)
		case loadErr == nil:
			if got, want := recordsJSON(t, loaded), recordsJSON(t, fresh); got != want {
				t.Fatalf("round %d: check and load hold\n%s\nthe load\n%s", round, got, want)
			}
			taken++
		case diskErr != nil:
			refusedByLoad++
		}
	}
	t.Logf("%d snapshots taken, %d refused by the check, %d by the load after it", taken, refusedByCheck, refusedByLoad)
	if taken < rounds/3 || refusedByCheck < rounds/20 || refusedByLoad == 0 {
		t.Fatalf("too little coverage: %d taken, %d refused by the check, %d by the load", taken, refusedByCheck, refusedByLoad)
	}
}
