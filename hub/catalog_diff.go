package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"sort"
	"time"
)

// SnapshotDiff takes a snapshot chunk by chunk and compares it with a live
// catalog, keeping only what differs: the records the snapshot holds with
// another value (or that the catalog lacks), and which of the catalog's
// records the snapshot holds unchanged (a bit per handle for people,
// grants and keycards). Catalog.ApplySnapshot then turns it into one
// all-or-nothing change of the live catalog: the records the snapshot did
// not hold are deleted, the differing ones put. The result is the set a
// fresh catalog loading the snapshot's ops would hold
// (TestSnapshotDiffEqualsLoad), without ever holding a second catalog.
//
// A batch applied to the live catalog while the diff is open first saves
// the value of every record it touches that the snapshot saw unchanged
// (copy on write), so the snapshot's value still wins at ApplySnapshot.
//
// One difference remains, for snapshots that put the same record twice
// (the cloud's never do: they are a catalog's Records): the diff judges
// the record's last value, a fresh load each in turn, so two people who
// share an email (or two devices a key) until a later put changes one of
// them are refused by the load and taken by the diff.
//
// A SnapshotDiff is guarded by whatever serialises the live catalog's
// writers: Add, Records and ApplySnapshot must not run beside the
// catalog's Apply (readers may go on).
type SnapshotDiff struct {
	live     *Catalog
	site     string
	snapSite *Site // the snapshot's site, once delivered

	people, grants, cards handleSet              // live handles held unchanged
	same                  map[changeKey]struct{} // other kinds held unchanged
	diff                  map[changeKey]Op       // held with another value: the snapshot's op
	detached              bool
}

// ErrSnapshotDiffStale is returned by ApplySnapshot for a diff made
// against another catalog than the one it is applied to.
var ErrSnapshotDiffStale = errors.New("hub: snapshot diff made against another catalog")

// DiffSnapshot starts comparing a snapshot of site with c. Close it when
// the snapshot is dropped; ApplySnapshot closes it too.
func (c *Catalog) DiffSnapshot(site string) *SnapshotDiff {
	d := &SnapshotDiff{live: c, site: site, same: map[changeKey]struct{}{}, diff: map[changeKey]Op{}}
	c.diffs = append(c.diffs, d)
	return d
}

// Close stops the copy on write of batches into the diff.
func (d *SnapshotDiff) Close() {
	if d.detached {
		return
	}
	d.detached = true
	c := d.live
	for i, o := range c.diffs {
		if o == d {
			c.diffs = append(c.diffs[:i], c.diffs[i+1:]...)
			break
		}
	}
	if len(c.diffs) == 0 {
		c.diffs = nil
	}
}

// Live is the catalog the diff compares with.
func (d *SnapshotDiff) Live() *Catalog { return d.live }

// Len is how many records the snapshot holds with another value than the
// live catalog (or that it lacks), so far.
func (d *SnapshotDiff) Len() int { return len(d.diff) }

// HasSite reports whether the snapshot delivered its site.
func (d *SnapshotDiff) HasSite() bool { return d.snapSite != nil }

// Deletions is how many of the live catalog's records the snapshot does
// not hold (so far): what ApplySnapshot would delete.
func (d *SnapshotDiff) Deletions() int {
	n := 0
	for _, k := range kindOrder {
		n += d.liveCount(k) - d.sameCount(k) - d.diffLiveCount(k)
	}
	return n
}

// handleSet is a set of arena handles.
type handleSet []uint64

func (s handleSet) has(h int32) bool {
	w := int(h >> 6)
	return h >= 0 && w < len(s) && s[w]&(1<<(uint(h)&63)) != 0
}

func (s *handleSet) set(h int32) {
	w := int(h >> 6)
	for w >= len(*s) {
		*s = append(*s, 0)
	}
	(*s)[w] |= 1 << (uint(h) & 63)
}

func (s handleSet) clear(h int32) {
	if w := int(h >> 6); h >= 0 && w < len(s) {
		s[w] &^= 1 << (uint(h) & 63)
	}
}

func (s handleSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// kindOrder is the dependency order of kinds: a record refers only to
// kinds before its own.
var kindOrder = []Kind{KindSite, KindDoor, KindKey, KindPerson, KindGrant, KindGuestGrant,
	KindKeycard, KindDevice, KindGuestCode, KindTour, KindAllowlist}

// opKey is the kind and id of a put op.
func opKey(o *Op) changeKey {
	switch o.Type {
	case OpPutSite:
		return changeKey{KindSite, ""}
	case OpPutDoor:
		return changeKey{KindDoor, o.Door.ID}
	case OpPutKey:
		return changeKey{KindKey, o.Key.ID}
	case OpPutPerson:
		return changeKey{KindPerson, o.Person.ID}
	case OpPutGrant:
		return changeKey{KindGrant, o.Grant.ID}
	case OpPutGuestGrant:
		return changeKey{KindGuestGrant, o.GuestGrant.ID}
	case OpPutKeycard:
		return changeKey{KindKeycard, o.Keycard.CardID}
	case OpPutDevice:
		return changeKey{KindDevice, o.Device.ID}
	case OpPutGuestCode:
		return changeKey{KindGuestCode, o.GuestCode.ID}
	case OpPutTour:
		return changeKey{KindTour, o.Tour.ID}
	case OpPutAllowlist:
		return changeKey{KindAllowlist, o.Allowlist.Integration}
	}
	return changeKey{}
}

// liveOp returns the live catalog's record of kind and id as a put op (a
// copy), or false.
func (c *Catalog) liveOp(k changeKey) (Op, bool) {
	switch k.kind {
	case KindSite:
		if c.site != nil {
			return Op{Type: OpPutSite, Site: c.Site()}, true
		}
	case KindDoor:
		if d := c.Door(k.id); d != nil {
			return Op{Type: OpPutDoor, Door: d}, true
		}
	case KindKey:
		if v := c.Key(k.id); v != nil {
			return Op{Type: OpPutKey, Key: v}, true
		}
	case KindPerson:
		if h := c.personH(k.id); h != none {
			return Op{Type: OpPutPerson, Person: c.personOf(h)}, true
		}
	case KindGrant:
		if h := c.grantH(k.id); h != none {
			return Op{Type: OpPutGrant, Grant: c.grantOf(h)}, true
		}
	case KindGuestGrant:
		if v := c.GuestGrant(k.id); v != nil {
			return Op{Type: OpPutGuestGrant, GuestGrant: v}, true
		}
	case KindKeycard:
		if h := c.cardH(k.id); h != none {
			return Op{Type: OpPutKeycard, Keycard: c.keycardOf(h)}, true
		}
	case KindDevice:
		if v := c.Device(k.id); v != nil {
			return Op{Type: OpPutDevice, Device: v}, true
		}
	case KindGuestCode:
		if v := c.GuestCode(k.id); v != nil {
			return Op{Type: OpPutGuestCode, GuestCode: v}, true
		}
	case KindTour:
		if v := c.Tour(k.id); v != nil {
			return Op{Type: OpPutTour, Tour: v}, true
		}
	case KindAllowlist:
		if v := c.Allowlist(k.id); v != nil {
			return Op{Type: OpPutAllowlist, Allowlist: v}, true
		}
	}
	return Op{}, false
}

// opValue is the record an op carries.
func opValue(o *Op) any {
	_, v, _ := o.record()
	return v
}

// sameRecord reports whether two records are equal as the store persists
// them (their JSON): a false "different" costs one put, never a wrong set.
func sameRecord(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(b)
	return err == nil && bytes.Equal(ja, jb)
}

// liveHandle is the handle of an arena record in the live catalog, and the
// set of handles held unchanged of its kind; nil for the other kinds.
func (d *SnapshotDiff) liveHandle(k changeKey) (int32, *handleSet) {
	c := d.live
	switch k.kind {
	case KindPerson:
		return c.personH(k.id), &d.people
	case KindGrant:
		return c.grantH(k.id), &d.grants
	case KindKeycard:
		return c.cardH(k.id), &d.cards
	}
	return none, nil
}

// delivered reports whether the snapshot holds the record so far.
func (d *SnapshotDiff) delivered(k changeKey) bool {
	if _, ok := d.diff[k]; ok {
		return true
	}
	if h, hs := d.liveHandle(k); hs != nil {
		return hs.has(h)
	}
	_, ok := d.same[k]
	return ok
}

// forget drops what the diff knows of a record (a second put of it).
func (d *SnapshotDiff) forget(k changeKey) {
	delete(d.diff, k)
	if h, hs := d.liveHandle(k); hs != nil {
		hs.clear(h)
		return
	}
	delete(d.same, k)
}

// Add takes the next chunk of the snapshot, in dependency order. It
// checks what Catalog.Load checks — puts only, each valid, references to
// records the snapshot delivered before, codes after the site and of its
// length — with the same errors, and keeps what differs from the live
// catalog. Person emails and device keys that collide are found by
// ApplySnapshot. After an error the diff must be dropped.
func (d *SnapshotDiff) Add(ops []Op) error {
	for i := range ops {
		if _, ok := putField[ops[i].Type]; !ok {
			return fmt.Errorf("ops[%d]: %w", i, invalid("op", string(ops[i].Type), "a snapshot holds only put ops"))
		}
	}
	for i := range ops {
		o := &ops[i]
		if err := o.Validate(); err != nil {
			return fmt.Errorf("ops[%d] (%s): %w", i, o.Type, err)
		}
		if err := d.check(o); err != nil {
			return fmt.Errorf("ops[%d] (%s): %w", i, o.Type, err)
		}
		k := opKey(o)
		d.forget(k)
		if o.Type == OpPutSite {
			d.snapSite = cloneSite(o.Site)
		}
		if cur, ok := d.live.liveOp(k); ok && sameRecord(opValue(&cur), opValue(o)) {
			if h, hs := d.liveHandle(k); hs != nil {
				hs.set(h)
			} else {
				d.same[k] = struct{}{}
			}
			continue
		}
		d.diff[k] = copyOp(o)
	}
	return nil
}

// copyOp copies an op's record, so that the caller may reuse its ops.
func copyOp(o *Op) Op {
	out := Op{Type: o.Type}
	switch o.Type {
	case OpPutSite:
		out.Site = cloneSite(o.Site)
	case OpPutDoor:
		v := *o.Door
		out.Door = &v
	case OpPutKey:
		out.Key = cloneKey(o.Key)
	case OpPutPerson:
		v := *o.Person
		out.Person = &v
	case OpPutGrant:
		v := *o.Grant
		v.Expires = cloneTime(v.Expires)
		out.Grant = &v
	case OpPutGuestGrant:
		out.GuestGrant = cloneGuestGrant(o.GuestGrant)
	case OpPutKeycard:
		v := *o.Keycard
		out.Keycard = &v
	case OpPutDevice:
		out.Device = cloneDevice(o.Device)
	case OpPutGuestCode:
		out.GuestCode = cloneGuestCode(o.GuestCode)
	case OpPutTour:
		out.Tour = cloneTour(o.Tour)
	case OpPutAllowlist:
		out.Allowlist = cloneAllowlist(o.Allowlist)
	}
	return out
}

// check is Catalog.apply's checks of a put, against what the snapshot
// delivered so far.
func (d *SnapshotDiff) check(o *Op) error {
	return checkSnapshotPut(o, d.site, d.snapSite, func(kind Kind, id string) bool { return d.delivered(changeKey{kind, id}) },
		d.checkCodeLengths)
}

// checkCodeLengths is Catalog.checkCodeLengths over the codes and tours
// the snapshot delivered so far.
func (d *SnapshotDiff) checkCodeLengths(n int) error {
	var err error
	d.eachDelivered(KindGuestCode, func(o Op) bool {
		if len(o.GuestCode.Code) != n {
			err = fmt.Errorf("%w: site.doorcode_length %d: guest code %q has another length", ErrConflict, n, o.GuestCode.ID)
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	d.eachDelivered(KindTour, func(o Op) bool {
		if len(o.Tour.Code) != n {
			err = fmt.Errorf("%w: site.doorcode_length %d: tour %q has another length", ErrConflict, n, o.Tour.ID)
		}
		return err == nil
	})
	return err
}

// eachDelivered calls fn with every record of a kind (not people, grants
// or keycards) the snapshot delivered so far, until fn returns false.
func (d *SnapshotDiff) eachDelivered(kind Kind, fn func(Op) bool) {
	for k := range d.same {
		if k.kind == kind {
			if o, ok := d.live.liveOp(k); ok && !fn(o) {
				return
			}
		}
	}
	for k, o := range d.diff {
		if k.kind == kind && !fn(o) {
			return
		}
	}
}

// preserve is the copy on write: called by the live catalog before a
// batch changes a record for the first time. A record the snapshot holds
// unchanged moves into the diff with its current value.
func (d *SnapshotDiff) preserve(kind Kind, id string) {
	k := changeKey{kind, id}
	if _, ok := d.diff[k]; ok {
		return
	}
	if h, hs := d.liveHandle(k); hs != nil {
		if !hs.has(h) {
			return
		}
		hs.clear(h)
	} else {
		if _, ok := d.same[k]; !ok {
			return
		}
		delete(d.same, k)
	}
	if o, ok := d.live.liveOp(k); ok {
		d.diff[k] = o
	}
}

// liveCount is how many records of a kind the live catalog holds.
func (d *SnapshotDiff) liveCount(kind Kind) int {
	return d.live.kindCount(kind)
}

func (c *Catalog) kindCount(kind Kind) int {
	switch kind {
	case KindSite:
		if c.site != nil {
			return 1
		}
		return 0
	case KindDoor:
		return len(c.doors)
	case KindKey:
		return len(c.keys)
	case KindPerson:
		return c.peopleByID.n
	case KindGrant:
		return c.grantsByID.n
	case KindGuestGrant:
		return len(c.guestGrants)
	case KindKeycard:
		return c.cardsByID.n
	case KindDevice:
		return len(c.devices)
	case KindGuestCode:
		return len(c.guestCodes)
	case KindTour:
		return len(c.tours)
	case KindAllowlist:
		return len(c.allowlists)
	}
	return 0
}

// sameCount is how many live records of a kind the snapshot holds
// unchanged.
func (d *SnapshotDiff) sameCount(kind Kind) int {
	switch kind {
	case KindPerson:
		return d.people.count()
	case KindGrant:
		return d.grants.count()
	case KindKeycard:
		return d.cards.count()
	}
	n := 0
	for k := range d.same {
		if k.kind == kind {
			n++
		}
	}
	return n
}

// diffLiveCount is how many records of a kind in the diff the live
// catalog holds (with another value).
func (d *SnapshotDiff) diffLiveCount(kind Kind) int {
	n := 0
	for k := range d.diff {
		if k.kind == kind {
			if _, ok := d.live.liveOp(k); ok {
				n++
			}
		}
	}
	return n
}

// deliveredCount is how many records of a kind the snapshot holds.
func (d *SnapshotDiff) deliveredCount(kind Kind) int {
	n := d.sameCount(kind)
	for k := range d.diff {
		if k.kind == kind {
			n++
		}
	}
	return n
}

// Records calls fn with every record the snapshot delivered so far, kind
// by kind in dependency order, as put ops (copies): what a store that
// falls back to loading a new catalog loads.
func (d *SnapshotDiff) Records(fn func(Op) error) error {
	c := d.live
	for _, kind := range kindOrder {
		var err error
		emit := func(o Op) bool {
			err = fn(o)
			return err == nil
		}
		switch kind {
		case KindPerson:
			for h := range c.people.recs {
				if c.people.recs[h].live && d.people.has(int32(h)) && !emit(Op{Type: OpPutPerson, Person: c.personOf(int32(h))}) {
					return err
				}
			}
		case KindGrant:
			for h := range c.grants.recs {
				if c.grants.recs[h].live && d.grants.has(int32(h)) && !emit(Op{Type: OpPutGrant, Grant: c.grantOf(int32(h))}) {
					return err
				}
			}
		case KindKeycard:
			for h := range c.cards.recs {
				if c.cards.recs[h].live && d.cards.has(int32(h)) && !emit(Op{Type: OpPutKeycard, Keycard: c.keycardOf(int32(h))}) {
					return err
				}
			}
		default:
			for _, k := range sortedKeys(d.same, kind) {
				if o, ok := c.liveOp(k); ok && !emit(o) {
					return err
				}
			}
		}
		for _, k := range sortedKeys(d.diff, kind) {
			if !emit(copyOp(ptr(d.diff[k]))) {
				return err
			}
		}
	}
	return nil
}

func ptr(o Op) *Op { return &o }

// sortedKeys returns the keys of kind in m, sorted by id.
func sortedKeys[V any](m map[changeKey]V, kind Kind) []changeKey {
	var ks []changeKey
	for k := range m {
		if k.kind == kind {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].id < ks[j].id })
	return ks
}

// placeholderDomain is the domain of the emails ApplySnapshot gives for a
// moment to people whose email the snapshot changes, so that two people
// who swap emails never collide half way (".invalid" is reserved, RFC
// 2606: no one has such an address).
const placeholderDomain = "snapshot-swap.invalid"

// commitOps turns the diff into one batch of ops on the live catalog:
// the deletions of every record the snapshot does not hold, dependents
// first; the deletion of devices it changes and a placeholder email for
// people whose email it changes (so keys and emails that move between
// records never collide half way); then the puts, in dependency order.
func (d *SnapshotDiff) commitOps() []Op {
	c := d.live
	var ops []Op
	del := func(t OpType, id string) { ops = append(ops, Op{Type: t, ID: id}) }
	notHeld := func(kind Kind, id string) bool { return !d.delivered(changeKey{kind, id}) }
	for _, id := range sortedMapKeys(c.allowlists) {
		if notHeld(KindAllowlist, id) {
			del(OpDeleteAllowlist, id)
		}
	}
	for _, id := range sortedMapKeys(c.tours) {
		if notHeld(KindTour, id) {
			del(OpDeleteTour, id)
		}
	}
	for _, id := range sortedMapKeys(c.guestCodes) {
		if notHeld(KindGuestCode, id) {
			del(OpDeleteGuestCode, id)
		}
	}
	for _, id := range sortedMapKeys(c.devices) {
		if _, changed := d.diff[changeKey{KindDevice, id}]; changed || notHeld(KindDevice, id) {
			del(OpDeleteDevice, id)
		}
	}
	for h := range c.cards.recs {
		if c.cards.recs[h].live && notHeld(KindKeycard, c.cardID(int32(h))) {
			del(OpDeleteKeycard, c.cardID(int32(h)))
		}
	}
	for _, id := range sortedMapKeys(c.guestGrants) {
		if notHeld(KindGuestGrant, id) {
			del(OpDeleteGuestGrant, id)
		}
	}
	for h := range c.grants.recs {
		if c.grants.recs[h].live && notHeld(KindGrant, c.grantID(int32(h))) {
			del(OpDeleteGrant, c.grantID(int32(h)))
		}
	}
	for h := range c.people.recs {
		if c.people.recs[h].live && notHeld(KindPerson, c.personID(int32(h))) {
			del(OpDeletePerson, c.personID(int32(h)))
		}
	}
	for _, id := range sortedMapKeys(c.keys) {
		if notHeld(KindKey, id) {
			del(OpDeleteKey, id)
		}
	}
	for _, id := range sortedMapKeys(c.doors) {
		if notHeld(KindDoor, id) {
			del(OpDeleteDoor, id)
		}
	}
	for i, k := range sortedKeys(d.diff, KindPerson) {
		h := c.personH(k.id)
		if h == none {
			continue
		}
		old := c.personOf(h)
		if NormalizeEmail(old.Email) != NormalizeEmail(d.diff[k].Person.Email) {
			old.Email = fmt.Sprintf("p%d@%s", i, placeholderDomain)
			ops = append(ops, Op{Type: OpPutPerson, Person: old})
		}
	}
	for _, kind := range kindOrder {
		for _, k := range sortedKeys(d.diff, kind) {
			ops = append(ops, copyOp(ptr(d.diff[k])))
		}
	}
	return ops
}

func sortedMapKeys[V any](m map[string]V) []string {
	ks := mapKeys(m)
	sort.Strings(ks)
	return ks
}

// ApplySnapshot applies a diff made against c: afterwards c holds exactly
// the snapshot's records, all or nothing, and returns the final state of
// every record that changed (as Apply does; a store persists them). First
// uses of the guest codes the snapshot holds stay, also of codes it
// changed; those of codes it dropped go. The diff is closed.
func (c *Catalog) ApplySnapshot(d *SnapshotDiff) ([]Change, error) {
	d.Close()
	if d.live != c {
		return nil, ErrSnapshotDiffStale
	}
	if d.snapSite == nil {
		return nil, &ValidationError{Field: "snapshot.ops", Reason: "a snapshot must hold the site"}
	}
	keep := map[string]time.Time{}
	for id, t := range c.firstUse {
		if d.delivered(changeKey{KindGuestCode, id}) {
			keep[id] = t
		}
	}
	want := make(map[Kind]int, len(kindOrder))
	for _, kind := range kindOrder {
		want[kind] = d.deliveredCount(kind)
	}
	ops := d.commitOps()
	c.verify = func() error {
		for _, kind := range kindOrder {
			if got := c.kindCount(kind); got != want[kind] {
				return fmt.Errorf("%w: the snapshot holds %d %s records, applying it as a diff left %d", ErrConflict, want[kind], kind, got)
			}
		}
		return nil
	}
	defer func() { c.verify = nil }()
	changes, err := c.Apply(d.site, ops)
	if err != nil {
		return nil, err
	}
	for id, t := range keep {
		if _, ok := c.firstUse[id]; !ok && c.guestCodes[id] != nil {
			c.firstUse[id] = t
		}
	}
	return changes, nil
}
