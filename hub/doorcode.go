package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strconv"
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
	m := hmac.New(sha256.New, secret)
	var buf [4]byte
	m.Write([]byte(doorcodeLabel))
	for _, part := range []string{doorID, personID, date} {
		m.Write([]byte{0})
		m.Write([]byte(part))
	}
	m.Write([]byte{0})
	binary.BigEndian.PutUint32(buf[:], reroll)
	m.Write(buf[:])
	mac := m.Sum(nil)
	off := mac[len(mac)-1] & 0x0f
	bin := uint32(mac[off]&0x7f)<<24 | uint32(mac[off+1])<<16 | uint32(mac[off+2])<<8 | uint32(mac[off+3])
	mod := uint32(1)
	for i := 0; i < length; i++ {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	for len(s) < length {
		s = "0" + s
	}
	return s
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
	site := c.Site()
	if site == nil || c.Door(doorID) == nil {
		return nil
	}
	dayStart, dayEnd, ok := dayBounds(date, c.Location())
	if !ok {
		return nil
	}
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, g := range c.grants {
		if g.Method != MethodDoorcode || seen[g.PersonID] {
			continue
		}
		k := c.keys[g.KeyID]
		if k == nil || !k.DoorcodesAllowed || !k.opens(doorID) || !overlaps(g.StartsAt, g.Expires, dayStart, dayEnd) {
			continue
		}
		seen[g.PersonID] = true
		p := c.people[g.PersonID]
		code := DailyDoorcode(site.DoorcodeSecret, doorID, p.ID, date, p.Reroll, site.DoorcodeLength)
		out[code] = append(out[code], p.ID)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

// codeCache keeps the daily code holders of the doors used today, keyed by
// the catalog generation so that any change to the set recomputes them.
type codeCache struct {
	mu      sync.Mutex
	entries map[codeCacheKey]map[string][]string
	gen     uint64
}

type codeCacheKey struct{ door, date string }

func (cc *codeCache) holders(c *Catalog, doorID, date string) map[string][]string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.entries == nil || cc.gen != c.Generation() {
		cc.entries = map[codeCacheKey]map[string][]string{}
		cc.gen = c.Generation()
	}
	k := codeCacheKey{doorID, date}
	h, ok := cc.entries[k]
	if !ok {
		// Keep only a few days' worth: old dates are never asked again.
		if len(cc.entries) > 4096 {
			cc.entries = map[codeCacheKey]map[string][]string{}
		}
		h = DailyCodeHolders(c, doorID, date)
		cc.entries[k] = h
	}
	return h
}
