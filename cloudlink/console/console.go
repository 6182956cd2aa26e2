package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Values is where the console keeps what is not part of the credential set
// (former people for past activity, hubs, activity): small named values.
// *badgerstore.Store implements it; MemValues is the one for tests.
type Values interface {
	Value(key string) ([]byte, error)
	SetValue(key string, value []byte) error
	Values(prefix string) (map[string][]byte, error)
}

// Options configures a Console.
type Options struct {
	// Store holds the site's authoritative credential set.
	Store hub.Store
	// Values holds the console's own records.
	Values Values
	// Outbox is the folder welcome and keycard notifications are written
	// to as .eml files; "" writes none.
	Outbox string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Rand makes ids, secrets and guest codes (crypto/rand when nil).
	Rand io.Reader
}

// Console performs the property manager's operations on one site.
type Console struct {
	opts Options
	mu   sync.Mutex
	// OnCommit, when set, hears each applied batch (under the console's
	// lock, in version order): the server publishes it to the hubs.
	OnCommit func(*hub.Batch)
	// CardPending, when set, says where the hubs' last pending reports
	// have a keycard (by cloudlink.CardRef) not applied by the locks: the
	// doors, and the lowest set version those reports reflect (0 when a
	// hub sent none, or its report does not say for this card). The
	// server sets it; without it a keycard change is pending until the
	// hubs acknowledged its version.
	CardPending func(siteID, cardRef string) (doors []string, reported uint64)
}

// New returns a console over a store.
func New(o Options) *Console {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Values == nil {
		o.Values = NewMemValues()
	}
	return &Console{opts: o}
}

// Store is the site's authoritative store.
func (c *Console) Store() hub.Store { return c.opts.Store }

// Values is the console's value store.
func (c *Console) Values() Values { return c.opts.Values }

func (c *Console) now() time.Time { return c.opts.Now().UTC().Truncate(time.Second) }

func (c *Console) randomHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.opts.Rand, b); err != nil {
		panic(fmt.Sprintf("console: random source failed: %v", err))
	}
	return hex.EncodeToString(b)
}

// view runs fn over the current catalog.
func (c *Console) view(fn func(cat *hub.Catalog)) { c.opts.Store.View(fn) }

// commit applies ops as the next version of the site. Callers hold c.mu.
func (c *Console) commit(ops []hub.Op) (*hub.Batch, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	var site string
	c.view(func(cat *hub.Catalog) {
		if s := cat.Site(); s != nil {
			site = s.ID
		}
	})
	for _, o := range ops {
		if o.Type == hub.OpPutSite {
			site = o.Site.ID
		}
	}
	if site == "" {
		return nil, ErrNoSite
	}
	v := c.opts.Store.Version()
	b := &hub.Batch{Site: site, Version: v + 1, Base: v, IssuedAt: c.now(), Ops: ops}
	if err := c.opts.Store.Apply(context.Background(), b); err != nil {
		return nil, err
	}
	if c.OnCommit != nil {
		c.OnCommit(b)
	}
	return b, nil
}

// Result is what an operation changed.
type Result struct {
	// Version is the site's version after the operation.
	Version uint64 `json:"version"`
	// Changed: the operation applied a batch (false when it had nothing
	// to change, or in a dry run).
	Changed bool `json:"changed"`
	// Ops counts the changes applied.
	Ops     int    `json:"ops"`
	Message string `json:"message,omitempty"`
}

func (c *Console) result(b *hub.Batch, msg string) Result {
	r := Result{Version: c.opts.Store.Version(), Message: msg}
	if b != nil {
		r.Changed, r.Ops = true, len(b.Ops)
	}
	return r
}

// site returns a copy of the site, or ErrNoSite.
func siteOf(cat *hub.Catalog) (*hub.Site, error) {
	s := cat.Site()
	if s == nil {
		return nil, ErrNoSite
	}
	cp := *s
	return &cp, nil
}

// slug turns a name into an id: lowercase letters, digits and '-'.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > hub.MaxIDLength {
		s = s[:hub.MaxIDLength]
	}
	return s
}

// findDoor finds a door by id or name (case-insensitive).
func findDoor(cat *hub.Catalog, name string) (*hub.Door, error) {
	if d := cat.Door(name); d != nil {
		return d, nil
	}
	for _, d := range cat.Doors() {
		if strings.EqualFold(d.Name, name) || d.ID == slug(name) {
			return d, nil
		}
	}
	return nil, notFoundf("door %q", name)
}

// keys lists every key sorted by id.
func allKeys(cat *hub.Catalog) []*hub.Key {
	var out []*hub.Key
	_ = cat.Records(func(o hub.Op) error {
		if o.Type == hub.OpPutKey {
			out = append(out, cat.Key(o.Key.ID))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// findKey finds a key by id or name (case-insensitive).
func findKey(cat *hub.Catalog, name string) (*hub.Key, error) {
	if k := cat.Key(name); k != nil {
		return k, nil
	}
	for _, k := range allKeys(cat) {
		if strings.EqualFold(k.Name, name) || k.ID == slug(name) {
			return k, nil
		}
	}
	return nil, notFoundf("key %q", name)
}

func findKeys(cat *hub.Catalog, names []string) ([]*hub.Key, error) {
	if len(names) == 0 {
		return nil, invalidf("--key: at least one key is required")
	}
	var out []*hub.Key
	seen := map[string]bool{}
	for _, n := range names {
		k, err := findKey(cat, strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		if !seen[k.ID] {
			seen[k.ID] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// findPerson finds a person by email, case-insensitively.
func findPerson(cat *hub.Catalog, email string) (*hub.Person, error) {
	if err := hub.ValidateEmail("email", strings.TrimSpace(email)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	p := cat.PersonByEmail(email)
	if p == nil {
		return nil, notFoundf("no person with email %q", email)
	}
	return p, nil
}

// parseTime parses an RFC 3339 time; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, invalidf("%s %q is not an RFC 3339 time like 2026-11-27T18:00:00Z", field, s)
	}
	return t.UTC(), nil
}

// grantID is the id of a person's grant of a key: one grant per person
// and key, so that inviting again updates it.
func grantID(personID, keyID string) string {
	id := "g-" + personID + "-" + keyID
	if len(id) > hub.MaxIDLength {
		id = id[:hub.MaxIDLength]
	}
	return id
}

// MemValues is Values in memory.
type MemValues struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemValues returns empty values.
func NewMemValues() *MemValues { return &MemValues{m: map[string][]byte{}} }

// Value implements Values.
func (v *MemValues) Value(key string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]byte(nil), v.m[key]...), nil
}

// SetValue implements Values.
func (v *MemValues) SetValue(key string, value []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[key] = append([]byte(nil), value...)
	return nil
}

// Values implements Values.
func (v *MemValues) Values(prefix string) (map[string][]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]byte{}
	for k, b := range v.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), b...)
		}
	}
	return out, nil
}

func setJSON(v Values, key string, x any) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return v.SetValue(key, b)
}
