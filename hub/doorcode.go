package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sort"
	"strings"
	"sync"
	"time"
)

// doorcodeLabel separates doorcode MACs from any other use of the secret.
const doorcodeLabel = "doorhub-doorcode-v1"

// DailyDoorcode derives the daily doorcode of a person at a door on a local
// date, as docs/doorcode.md specifies:
//
//	msg  = "doorhub-doorcode-v1" 0x00 door 0x00 person 0x00 "YYYY-MM-DD" 0x00 reroll(uint32 big-endian)
//	mac  = HMAC-SHA256(secret, msg)
//	off  = mac[31] & 0x0f
//	bin  = (mac[off]&0x7f)<<24 | mac[off+1]<<16 | mac[off+2]<<8 | mac[off+3]
//	code = bin mod 10^length, left-padded with zeros to length digits
func DailyDoorcode(secret []byte, doorID, personID, date string, reroll uint32, length int) string {
	return newCodeDeriver(secret).code(doorID, personID, date, reroll, length)
}

// codeDeriver derives many codes under one secret without allocating per
// code beyond the result: a door's holders are derived in one go.
type codeDeriver struct {
	mac hash.Hash
	msg []byte
	sum []byte
}

func newCodeDeriver(secret []byte) *codeDeriver {
	return &codeDeriver{mac: hmac.New(sha256.New, secret), sum: make([]byte, 0, sha256.Size)}
}

func (d *codeDeriver) code(doorID, personID, date string, reroll uint32, length int) string {
	m := append(d.msg[:0], doorcodeLabel...)
	for _, part := range []string{doorID, personID, date} {
		m = append(m, 0)
		m = append(m, part...)
	}
	m = append(m, 0)
	m = binary.BigEndian.AppendUint32(m, reroll)
	d.msg = m
	d.mac.Reset()
	d.mac.Write(m)
	mac := d.mac.Sum(d.sum[:0])
	off := mac[len(mac)-1] & 0x0f
	bin := uint32(mac[off]&0x7f)<<24 | uint32(mac[off+1])<<16 | uint32(mac[off+2])<<8 | uint32(mac[off+3])
	var digits [MaxDoorcodeLength]byte
	for i := length - 1; i >= 0; i-- {
		digits[i] = byte('0' + bin%10)
		bin /= 10
	}
	return string(digits[:length])
}

// LocalDay returns the local date of t in loc and the day's bounds
// [start, end). Days are 23 or 25 hours long across DST changes.
func LocalDay(t time.Time, loc *time.Location) (date string, start, end time.Time) {
	lt := t.In(loc)
	y, m, d := lt.Date()
	start = time.Date(y, m, d, 0, 0, 0, 0, loc)
	end = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	return start.Format(time.DateOnly), start, end
}

// dayBounds returns the bounds of a local date string.
func dayBounds(date string, loc *time.Location) (start, end time.Time, ok bool) {
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	y, m, dd := d.Date()
	return d, time.Date(y, m, dd+1, 0, 0, 0, 0, loc), true
}

// overlaps reports whether [start, expires) overlaps [dayStart, dayEnd).
// A nil expires is open-ended.
func overlaps(start time.Time, expires *time.Time, dayStart, dayEnd time.Time) bool {
	if !start.Before(dayEnd) {
		return false
	}
	return expires == nil || expires.After(dayStart)
}

// DailyCodeHolders returns, for every person who may use a daily doorcode
// at the door on the local date, the code → person ids (sorted) map. A
// person may use one when they hold a doorcode grant of a key that opens
// the door, allows doorcodes, and whose window overlaps the date.
func DailyCodeHolders(c *Catalog, doorID, date string) map[string][]string {
	return newHolderSet(c, doorID, date).byCode
}

// holderSet is the daily code holders of one door on one date, both ways.
type holderSet struct {
	byCode map[string][]string // code -> person ids, sorted
	codeOf map[string]string   // person id -> code
}

func newHolderSet(c *Catalog, doorID, date string) *holderSet {
	hs := &holderSet{byCode: map[string][]string{}, codeOf: map[string]string{}}
	site := c.site
	if site == nil || c.doors[doorID] == nil {
		return hs
	}
	dayStart, dayEnd, ok := dayBounds(date, c.Location())
	if !ok {
		return hs
	}
	d := newCodeDeriver(site.DoorcodeSecret)
	dh := c.doorH(doorID)
	for h := range c.grants.recs {
		g := &c.grants.recs[h]
		if !g.live || !g.doorcode {
			continue
		}
		id := c.personID(g.person)
		if _, done := hs.codeOf[id]; done {
			continue
		}
		if k := c.keyByH[g.key]; k.DoorcodesAllowed && k.opens(dh) && c.grantOverlaps(g, dayStart, dayEnd) {
			hs.add(id, d.code(doorID, id, date, c.people.recs[g.person].reroll, site.DoorcodeLength))
		}
	}
	return hs
}

func (hs *holderSet) add(personID, code string) {
	// The set outlives the catalog's text arena (a compaction, a new
	// set): a copy keeps a few bytes alive rather than a chunk.
	personID = strings.Clone(personID)
	ids := hs.byCode[code]
	i := sort.SearchStrings(ids, personID)
	ids = append(ids, "")
	copy(ids[i+1:], ids[i:])
	ids[i] = personID
	hs.byCode[code] = ids
	hs.codeOf[personID] = code
}

// update re-derives one person's place in the set after a change.
func (hs *holderSet) update(c *Catalog, doorID, date, personID string) {
	if old, ok := hs.codeOf[personID]; ok {
		if ids := removeString(hs.byCode[old], personID); len(ids) > 0 {
			hs.byCode[old] = ids
		} else {
			delete(hs.byCode, old)
		}
		delete(hs.codeOf, personID)
	}
	n, site := c.personH(personID), c.site
	if n == none || site == nil {
		return
	}
	dayStart, dayEnd, ok := dayBounds(date, c.Location())
	if !ok {
		return
	}
	dh := c.doorH(doorID)
	p := &c.people.recs[n]
	for h := p.grants; h != none; h = c.grants.recs[h].next {
		g := &c.grants.recs[h]
		if k := c.keyByH[g.key]; g.doorcode && k.DoorcodesAllowed && k.opens(dh) &&
			c.grantOverlaps(g, dayStart, dayEnd) {
			hs.add(personID, DailyDoorcode(site.DoorcodeSecret, doorID, personID, date, p.reroll, site.DoorcodeLength))
			return
		}
	}
}

// codeCache keeps the daily code holders of the doors used recently. When
// the set changes it updates only the people the change touched (the
// catalog logs them), so an invitation does not make the next code at a
// busy entrance derive every holder's code again; a change to the site, a
// door or a key, a snapshot, or a cache too far behind rebuilds.
type codeCache struct {
	mu      sync.Mutex
	cat     uint64 // Catalog.id: not a pointer, so a swapped-out set is freed
	gen     uint64
	entries map[codeCacheKey]*holderSet
}

type codeCacheKey struct{ door, date string }

// holders returns the people whose daily code at the door on the date is
// code (a copy: the cache changes under later batches).
func (cc *codeCache) holders(c *Catalog, doorID, date, code string) []string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.catchUp(c)
	k := codeCacheKey{doorID, date}
	hs, ok := cc.entries[k]
	if !ok {
		// Days before yesterday are never asked again.
		for old := range cc.entries {
			if old.date < date && old.date != previousDate(date) {
				delete(cc.entries, old)
			}
		}
		hs = newHolderSet(c, doorID, date)
		cc.entries[k] = hs
	}
	return append([]string(nil), hs.byCode[code]...)
}

func (cc *codeCache) catchUp(c *Catalog) {
	if cc.cat == c.id && cc.gen == c.Generation() && cc.entries != nil {
		return
	}
	events, ok := c.codeEventsSince(cc.gen)
	if cc.cat != c.id || cc.entries == nil || !ok {
		cc.reset(c)
		return
	}
	touched := map[string]struct{}{}
	for _, e := range events {
		if e.all {
			cc.reset(c)
			return
		}
		for _, p := range e.people {
			touched[p] = struct{}{}
		}
	}
	for k, hs := range cc.entries {
		for p := range touched {
			hs.update(c, k.door, k.date, p)
		}
	}
	cc.gen = c.Generation()
}

func (cc *codeCache) reset(c *Catalog) {
	cc.cat, cc.gen, cc.entries = c.id, c.Generation(), map[codeCacheKey]*holderSet{}
}

func previousDate(date string) string {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return ""
	}
	return d.AddDate(0, 0, -1).Format(time.DateOnly)
}
