package hub

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// A door's lock list is what the lock keeps so it can decide on its own
// when the hub is unreachable (docs/door-lists.md). The hub computes the
// desired list of every door from the credential set; delivery and
// acknowledgement are tracked by DoorSync (pending.go).
//
// Entries carry their own validity windows, so a start date in the future
// needs no second update. Only credentials a lock can check alone have
// entries: keycards (card id) and phones (Ed25519 public key; the lock
// verifies the signature over MobileMessage itself). Daily doorcodes, guest
// codes and tours have none: a lock alone denies every doorcode.

// EntryKind is the kind of credential a list entry names.
type EntryKind uint8

// Entry kinds, as encoded.
const (
	EntryKeycard EntryKind = 1 // ID is the card id (4–32 bytes)
	EntryPhone   EntryKind = 2 // ID is an Ed25519 public key (32 bytes)
	// EntrySetting is a door setting the lock keeps with its list: ID is
	// the setting and its value (2 bytes), no windows. Sorted after every
	// credential; not counted against the lock's capacity.
	EntrySetting EntryKind = 0x10
)

// Settings, the first byte of an EntrySetting's ID.
const (
	// SettingOffline: the door's OfflineMode, 0 secure, 1 as-is. Only
	// as-is has an entry: a list without one is secure, so the lists
	// (and digests) of secure doors are those of credentials alone.
	SettingOffline byte = 1
)

// offlineEntry is the setting entry of an as-is door.
func offlineEntry(m OfflineMode) (ListEntry, bool) {
	if m != OfflineAsIs {
		return ListEntry{}, false
	}
	return ListEntry{Kind: EntrySetting, ID: []byte{SettingOffline, 1}}, true
}

// ListOfflineMode is the offline mode a lock's list carries.
func ListOfflineMode(entries []ListEntry) OfflineMode {
	if e := findEntry(entries, EntrySetting, []byte{SettingOffline, 1}); e != nil {
		return OfflineAsIs
	}
	return OfflineSecure
}

// ListCredentials counts the credential entries of a list (not its
// settings): what the lock's capacity bounds.
func ListCredentials(entries []ListEntry) int {
	n := 0
	for i := range entries {
		if entries[i].Kind != EntrySetting {
			n++
		}
	}
	return n
}

// Priority is the class a list entry is kept by when a door's list does
// not fit its lock: lower keeps first.
type Priority uint8

// Priorities, from the first kept.
const (
	PriorityManager  Priority = 0 // the holder is a manager
	PriorityResident Priority = 1 // a resident grant of a key with this door
	PriorityStaff    Priority = 2 // any other grant of a key with this door
	PriorityGuest    Priority = 3 // only guest grants admit at this door
)

// String names the priority for reports.
func (p Priority) String() string {
	switch p {
	case PriorityManager:
		return "manager"
	case PriorityResident:
		return "resident"
	case PriorityStaff:
		return "staff"
	case PriorityGuest:
		return "guest"
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// ListWindow is a half-open interval [Start, End) in Unix seconds; End 0
// means open-ended. The hub rounds a record's start and expiry up to the
// next whole second, so a lock whose clock counts whole seconds decides
// exactly as the hub does.
type ListWindow struct {
	Start int64
	End   int64
}

// Holds reports whether the window admits at Unix second t.
func (w ListWindow) Holds(t int64) bool {
	return t >= w.Start && (w.End == 0 || t < w.End)
}

// ListEntry is one credential in a lock's list with the windows in which
// it opens the door: sorted, disjoint and not adjacent.
type ListEntry struct {
	Kind    EntryKind
	ID      []byte
	Windows []ListWindow

	// Kept for ordering and reports only; not encoded.
	Priority Priority `json:"-"`
	PersonID string   `json:"-"`
}

// MaxListWindows bounds an entry's windows (the count is encoded in two
// bytes).
const MaxListWindows = 0xffff

// AppendEncode appends the entry's encoding:
//
//	kind(1) | id length(1) | id | window count(2, big-endian) | windows
//	window = start(8, big-endian int64 Unix seconds) | end(8; 0 = open-ended)
//
// The encoding is self-delimiting, so a list's encoding is its entries'
// encodings one after the other, sorted by (kind, id).
func (e *ListEntry) AppendEncode(dst []byte) []byte {
	dst = append(dst, byte(e.Kind), byte(len(e.ID)))
	dst = append(dst, e.ID...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Windows)))
	for _, w := range e.Windows {
		dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start))
		dst = binary.BigEndian.AppendUint64(dst, uint64(w.End))
	}
	return dst
}

// EncodedLen is the length of the entry's encoding.
func (e *ListEntry) EncodedLen() int { return 1 + 1 + len(e.ID) + 2 + 16*len(e.Windows) }

// ErrListEncoding is returned by DecodeListEntry for bytes that are not one
// well-formed entry.
var ErrListEncoding = fmt.Errorf("hub: malformed lock list entry")

// DecodeListEntry decodes one entry from the front of b and returns the
// rest.
func DecodeListEntry(b []byte) (ListEntry, []byte, error) {
	var e ListEntry
	if len(b) < 2 {
		return e, b, fmt.Errorf("%w: short header", ErrListEncoding)
	}
	e.Kind = EntryKind(b[0])
	n := int(b[1])
	switch {
	case e.Kind == EntryKeycard && (n < 4 || n > MaxCardIDBytes):
		return e, b, fmt.Errorf("%w: card id of %d bytes", ErrListEncoding, n)
	case e.Kind == EntryPhone && n != ed25519.PublicKeySize:
		return e, b, fmt.Errorf("%w: public key of %d bytes", ErrListEncoding, n)
	case e.Kind == EntrySetting && n != 2:
		return e, b, fmt.Errorf("%w: setting of %d bytes", ErrListEncoding, n)
	case e.Kind != EntryKeycard && e.Kind != EntryPhone && e.Kind != EntrySetting:
		return e, b, fmt.Errorf("%w: kind %d", ErrListEncoding, e.Kind)
	}
	b = b[2:]
	if len(b) < n+2 {
		return e, b, fmt.Errorf("%w: short id", ErrListEncoding)
	}
	e.ID = append([]byte(nil), b[:n]...)
	count := int(binary.BigEndian.Uint16(b[n:]))
	b = b[n+2:]
	if len(b) < 16*count {
		return e, b, fmt.Errorf("%w: short windows", ErrListEncoding)
	}
	if e.Kind == EntrySetting && count != 0 {
		return e, b, fmt.Errorf("%w: setting with windows", ErrListEncoding)
	}
	e.Windows = make([]ListWindow, count)
	for i := range e.Windows {
		e.Windows[i] = ListWindow{
			Start: int64(binary.BigEndian.Uint64(b[16*i:])),
			End:   int64(binary.BigEndian.Uint64(b[16*i+8:])),
		}
	}
	return e, b[16*count:], nil
}

// DoorList is the desired lock list of one door at one moment.
type DoorList struct {
	Door string
	// Entries kept, sorted by (kind, id): the order they are encoded and
	// digested in.
	Entries []ListEntry
	// Capacity is the lock's capacity in entries.
	Capacity int
	// Overflow says what did not fit.
	Overflow ListOverflow
	// Digest is SHA-256 over the encoded entries in order. A lock reports
	// the digest of the list it holds; the hub compares.
	Digest [sha256.Size]byte

	// The same catalog gives this list from second computedAt (as
	// ceilSeconds counts them) until changesAt: the earliest end of any
	// window behind an entry (merged or not), or, when the list
	// overflows, the earliest start still to
	// come (the order of what is kept uses them); math.MaxInt64: never.
	// Before computedAt, windows it left out as ended may still be open.
	computedAt, changesAt int64
}

// ListOverflow counts the credentials left out of a door's list for
// capacity, by priority. Left lists them for reports (kind and holder;
// never the card id or key).
type ListOverflow struct {
	Desired int // credentials that would have entries without a capacity
	Kept    int
	Left    [4]int // by Priority
	// LeftOut names what was left out: person ids with the entry kind.
	LeftOut []LeftOut
}

// LeftOut is one credential left out of a door's list for capacity.
type LeftOut struct {
	Kind     EntryKind
	PersonID string
	Priority Priority
	// id is the credential, for tests in this package and Omitted.
	id string
}

// Total is how many credentials were left out.
func (o ListOverflow) Total() int { return o.Desired - o.Kept }

// Omitted reports whether the credential was left out for capacity.
func (l *DoorList) Omitted(kind EntryKind, id []byte) bool {
	for _, o := range l.Overflow.LeftOut {
		if o.Kind == kind && o.id == string(id) {
			return true
		}
	}
	return false
}

// Encode returns the list's encoding: its entries' encodings in order.
func (l *DoorList) Encode() []byte {
	n := 0
	for i := range l.Entries {
		n += l.Entries[i].EncodedLen()
	}
	b := make([]byte, 0, n)
	for i := range l.Entries {
		b = l.Entries[i].AppendEncode(b)
	}
	return b
}

// ListDigest is the digest of an encoded list.
func ListDigest(encoded []byte) [sha256.Size]byte { return sha256.Sum256(encoded) }

// DecodeList decodes an encoded list; entries must be in strictly
// increasing (kind, id) order.
func DecodeList(b []byte) ([]ListEntry, error) {
	var out []ListEntry
	for len(b) > 0 {
		e, rest, err := DecodeListEntry(b)
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && compareEntry(&out[n-1], &e) >= 0 {
			return nil, fmt.Errorf("%w: entries out of order", ErrListEncoding)
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}

func compareEntry(a, b *ListEntry) int {
	if a.Kind != b.Kind {
		if a.Kind < b.Kind {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.ID, b.ID)
}

// DoorListOf computes the desired list of a door at now from the catalog.
// Windows that ended by now are left out; a credential whose windows all
// ended has no entry. When more credentials qualify than the door's lock
// holds, they are kept by priority (managers, residents, staff, guests),
// then by the soonest moment they admit (now for those valid now), then by
// kind and id; the rest are counted in Overflow and named in
// Overflow.LeftOut.
//
// It costs what the credentials that may open the door cost, not the
// site's: only the people doorCandidates finds can have entries.
func DoorListOf(c *Catalog, doorID string, now time.Time) (*DoorList, error) {
	return doorListOf(c, doorID, now, true)
}

// listCand is a credential that qualifies for a door's list, before it is
// known whether the lock has room for it: small and pointer-free, so that
// ranking the thousands a busy door's lock cannot hold moves little and
// allocates nothing per credential.
type listCand struct {
	start  int64 // its first window's start
	prio   Priority
	kind   EntryKind
	person int32
	ref    int32 // the keycard's handle, or the phone's index in devs
	ws, nw int32 // its windows: wins[ws : ws+nw]
}

// doorListOf is DoorListOf; without leftOut the list's Overflow counts
// what did not fit but does not name it (DoorLists needs the counts
// only: at 100,000 credentials naming them allocated ~40 MB each time
// all 200 lists were computed).
func doorListOf(c *Catalog, doorID string, now time.Time, leftOut bool) (*DoorList, error) {
	dn := c.doors[doorID]
	if dn == nil {
		return nil, notFound("door", doorID)
	}
	door := &dn.Door
	capacity := door.LockCapacity
	if capacity == 0 {
		capacity = DefaultLockCapacity
	}
	nowSec := ceilSeconds(now)
	next := int64(math.MaxInt64) // the first second a window of an entry ends
	cand := c.doorCandidates(dn.h)
	defer cand.release()
	cands := make([]listCand, 0, len(cand.people))  // most people have a credential or two
	wins := make([]ListWindow, 0, len(cand.people)) // and a window
	var devs []*Device
	for _, n := range cand.people {
		p := &c.people.recs[n]
		// admitWindows depends on the person and the credential's kind
		// only: one call per kind, its windows shared by the
		// credentials of that kind.
		var prio Priority
		var ends int64
		var at int32
		first := true
		for k := p.cards; k != none; k = c.cards.recs[k].next {
			if !c.cards.recs[k].active {
				continue
			}
			if first {
				at = int32(len(wins))
				wins, prio, ends = appendAdmitWindows(wins, c, n, doorID, CredKeycard, nowSec)
				if len(wins) == int(at) {
					break
				}
				next = min(next, ends)
				first = false
			}
			cands = append(cands, listCand{start: wins[at].Start, prio: prio, kind: EntryKeycard, person: n, ref: k, ws: at, nw: int32(len(wins)) - at})
		}
		for i, devID := range c.devicesByOwner[c.personID(n)] {
			if i == 0 {
				at = int32(len(wins))
				wins, prio, ends = appendAdmitWindows(wins, c, n, doorID, CredMobile, nowSec)
				if len(wins) == int(at) {
					break
				}
				next = min(next, ends)
			}
			cands = append(cands, listCand{start: wins[at].Start, prio: prio, kind: EntryPhone, person: n, ref: int32(len(devs)), ws: at, nw: int32(len(wins)) - at})
			devs = append(devs, c.devices[devID])
		}
	}
	l := &DoorList{Door: doorID, Capacity: capacity, computedAt: nowSec, changesAt: next}
	l.Overflow.Desired = len(cands)
	// candID is a credential's id as the list orders it, without a copy
	// for the usual keycard ids.
	candID := func(x *listCand) []byte {
		if x.kind == EntryPhone {
			return devs[x.ref].PublicKey
		}
		return c.cardIDBytes(x.ref)
	}
	if len(cands) > capacity {
		for i := range cands {
			if s := cands[i].start; s > nowSec {
				l.changesAt = min(l.changesAt, s)
			}
		}
		// (kind, id) is unique, so the order is total and any sort
		// gives the one result.
		slices.SortFunc(cands, func(a, b listCand) int {
			if a.prio != b.prio {
				return cmp.Compare(a.prio, b.prio)
			}
			if sa, sb := max(a.start, nowSec), max(b.start, nowSec); sa != sb {
				return cmp.Compare(sa, sb)
			}
			if a.kind != b.kind {
				return cmp.Compare(a.kind, b.kind)
			}
			return bytes.Compare(candID(&a), candID(&b))
		})
		if leftOut {
			l.Overflow.LeftOut = make([]LeftOut, 0, len(cands)-capacity)
		}
		for i := capacity; i < len(cands); i++ {
			x := &cands[i]
			l.Overflow.Left[x.prio]++
			if leftOut {
				l.Overflow.LeftOut = append(l.Overflow.LeftOut, LeftOut{Kind: x.kind, PersonID: c.personID(x.person), Priority: x.prio, id: string(candID(x))})
			}
		}
		cands = cands[:capacity]
	}
	l.Overflow.Kept = len(cands)
	var all []ListEntry
	if len(cands) > 0 { // else no entries (but the setting), as DoorLists and tests have always seen
		all = make([]ListEntry, 0, len(cands)+1)
	}
	for i := range cands {
		x := &cands[i]
		e := ListEntry{Kind: x.kind, Windows: slices.Clone(wins[x.ws : x.ws+x.nw]), Priority: x.prio, PersonID: c.personID(x.person)}
		if x.kind == EntryPhone {
			e.ID = append([]byte(nil), devs[x.ref].PublicKey...)
		} else {
			e.ID = c.cardBytes(x.ref)
		}
		all = append(all, e)
	}
	if e, ok := offlineEntry(door.Offline); ok {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool { return compareEntry(&all[i], &all[j]) < 0 })
	l.Entries = all
	l.Digest = ListDigest(l.Encode())
	return l, nil
}

// doorCandidates are the people whose credentials may open a door: the
// holders of grants of keys that open it, and the guests of guest grants
// of such keys that may be shared. For anyone else admitWindows is empty
// at the door. Each person is listed once, in no particular order.
type doorCandidates struct {
	seen   []uint64 // by person handle
	people []int32
}

// candidatePool reuses the bitsets: catalogs are read concurrently (a
// store's View), so the catalog cannot hold one itself.
var candidatePool = sync.Pool{New: func() any { return new(doorCandidates) }}

func (c *Catalog) doorCandidates(door int32) *doorCandidates {
	d := candidatePool.Get().(*doorCandidates)
	if w := (len(c.people.recs) + 63) / 64; len(d.seen) < w {
		d.seen = append(d.seen, make([]uint64, w-len(d.seen))...)
	}
	for _, k := range c.keyByH {
		if k == nil || !k.opens(door) {
			continue
		}
		for g := k.grants; g != none; g = c.grants.recs[g].nextByKey {
			d.add(c.grants.recs[g].person)
		}
		if !k.MayShareAllowed {
			continue
		}
		for id := range c.guestsByKey[k.ID] {
			if n := c.personH(c.guestGrants[id].GuestID); n != none {
				d.add(n)
			}
		}
	}
	return d
}

func (d *doorCandidates) add(n int32) {
	w, bit := n>>6, uint64(1)<<(uint(n)&63)
	if d.seen[w]&bit == 0 {
		d.seen[w] |= bit
		d.people = append(d.people, n)
	}
}

// release clears what was set, so the next use starts empty, and returns
// d to the pool.
func (d *doorCandidates) release() {
	for _, n := range d.people {
		d.seen[n>>6] &^= uint64(1) << (uint(n) & 63)
	}
	d.people = d.people[:0]
	candidatePool.Put(d)
}

// admitWindows is when a person's credential of kind opens the door, from
// nowSec on, and the priority the entry is kept by. It is the union of the
// windows of the person's grants of keys with the door that admit the kind,
// and of their guest grants of such keys intersected with the host's
// sharing grants (docs/access-rules.md steps 3 and 4, on a trusted clock).
// ends is the first second after nowSec at which one of those windows
// ends (math.MaxInt64: none does): the merged windows change then.
func admitWindows(c *Catalog, n int32, doorID string, kind CredentialKind, nowSec int64) (ws []ListWindow, prio Priority, ends int64) {
	return appendAdmitWindows(nil, c, n, doorID, kind, nowSec)
}

// appendAdmitWindows is admitWindows appending the windows to dst: a
// door's list gathers every credential's windows in one slice.
func appendAdmitWindows(dst []ListWindow, c *Catalog, n int32, doorID string, kind CredentialKind, nowSec int64) (out []ListWindow, prio Priority, ends int64) {
	base := len(dst)
	ws := dst
	prio = PriorityGuest
	own, resident := false, false
	dh := c.doorH(doorID)
	for h := c.people.recs[n].grants; h != none; h = c.grants.recs[h].next {
		g := &c.grants.recs[h]
		k := c.keyByH[g.key]
		if !k.opens(dh) {
			continue
		}
		own = true
		resident = resident || g.resident
		if kind == CredMobile && g.doorcode {
			continue
		}
		ws = append(ws, c.grantWindow(g))
	}
	for _, id := range c.guestsByGuest[c.personID(n)] {
		gg := c.guestGrants[id]
		k := c.keys[gg.KeyID]
		if !k.opens(dh) || !k.MayShareAllowed {
			continue
		}
		host := c.personH(gg.HostID)
		if host == none {
			continue
		}
		guest := ListWindow{Start: minInt64, End: 0}
		if !gg.Permanent {
			guest = windowOf(gg.StartsAt, gg.Expires)
		}
		for h := c.people.recs[host].grants; h != none; h = c.grants.recs[h].next {
			hg := &c.grants.recs[h]
			if hg.key != k.h || !hg.mayShare() {
				continue
			}
			if w, ok := intersect(guest, c.grantWindow(hg)); ok {
				ws = append(ws, w)
			}
		}
	}
	switch {
	case c.people.recs[n].manager:
		prio = PriorityManager
	case resident:
		prio = PriorityResident
	case own:
		prio = PriorityStaff
	}
	ends = math.MaxInt64
	for _, w := range ws[base:] {
		if e := endOf(w); e > nowSec && e > w.Start {
			ends = min(ends, e)
		}
	}
	merged := mergeWindows(ws[base:], nowSec) // in place
	return ws[:base+len(merged)], prio, ends
}

const minInt64 = -1 << 63

func windowOf(start time.Time, expires *time.Time) ListWindow {
	w := ListWindow{Start: ceilSeconds(start)}
	if expires != nil {
		w.End = ceilSeconds(*expires)
	}
	return w
}

// ceilSeconds is t in Unix seconds, rounded up.
func ceilSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func endOf(w ListWindow) int64 {
	if w.End == 0 {
		return 1<<63 - 1
	}
	return w.End
}

func intersect(a, b ListWindow) (ListWindow, bool) {
	w := ListWindow{Start: max(a.Start, b.Start)}
	end := min(endOf(a), endOf(b))
	if end != 1<<63-1 {
		w.End = end
	}
	return w, end > w.Start
}

// mergeWindows sorts and merges windows and drops what ended by nowSec.
// Starts are kept as they are, not clipped to nowSec: the list of an
// unchanged set then stays the same as time passes, until a window ends.
// It works in ws's array: the caller gives up ws.
func mergeWindows(ws []ListWindow, nowSec int64) []ListWindow {
	live := ws[:0]
	for _, w := range ws {
		if endOf(w) <= nowSec || endOf(w) <= w.Start {
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b ListWindow) int { return cmp.Compare(a.Start, b.Start) })
	out := live[:1]
	for _, w := range live[1:] {
		last := &out[len(out)-1]
		if w.Start <= endOf(*last) {
			if endOf(w) > endOf(*last) {
				last.End = w.End
			}
			continue
		}
		out = append(out, w)
	}
	if len(out) > MaxListWindows {
		out = out[:MaxListWindows] // narrows access only; never reached by a real site
	}
	return out
}

// LockDecide is the decision a lock makes alone from its list at Unix
// second t, for a door it knows by id: a keycard or a phone in the list
// within one of its windows is allowed; a phone's signature over
// MobileMessage(doorID, nonce) must verify. Doorcodes have no entries and
// are denied. It returns AllowedByGrant for every allow (the lock does not
// know which record admits), or the reason for a denial.
func LockDecide(entries []ListEntry, doorID string, p Presentation, t int64) Reason {
	var e *ListEntry
	switch p.Kind {
	case CredKeycard:
		id, err := hex.DecodeString(p.CardID)
		if err != nil {
			return UnknownCredential
		}
		e = findEntry(entries, EntryKeycard, id)
	case CredMobile:
		e = findEntry(entries, EntryPhone, p.PublicKey)
		if e != nil && (len(p.Signature) != ed25519.SignatureSize ||
			!ed25519.Verify(e.ID, MobileMessage(doorID, p.Nonce), p.Signature)) {
			return SignatureInvalid
		}
	}
	if e == nil {
		return UnknownCredential
	}
	for _, w := range e.Windows {
		if w.Holds(t) {
			return AllowedByGrant
		}
	}
	if len(e.Windows) > 0 && t < e.Windows[0].Start {
		return NotStarted
	}
	return Expired
}

func findEntry(entries []ListEntry, kind EntryKind, id []byte) *ListEntry {
	key := ListEntry{Kind: kind, ID: id}
	i := sort.Search(len(entries), func(i int) bool { return compareEntry(&entries[i], &key) >= 0 })
	if i < len(entries) && compareEntry(&entries[i], &key) == 0 {
		return &entries[i]
	}
	return nil
}
