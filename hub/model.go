package hub

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Limits on the model. They keep records small enough for a lock's list and
// for the wire protocols.
const (
	MaxIDLength         = 64
	MaxNameLength       = 128
	MinDoorcodeLength   = 5
	MaxDoorcodeLength   = 7
	DefaultDoorcodeLen  = 7
	MaxCardIDBytes      = 32
	MinDoorcodeSecret   = 16
	FifteenMinutes      = 15 * time.Minute
	DefaultLockCapacity = 1000
)

// DoorType says what a door is. Residence doors are private; the others
// are public (see docs/access-rules.md, privacy).
type DoorType string

// Door types.
const (
	DoorEntrance  DoorType = "entrance"
	DoorResidence DoorType = "residence"
	DoorService   DoorType = "service"
	DoorCommunal  DoorType = "communal"
)

// Private reports whether activity at such a door is private to residents.
func (t DoorType) Private() bool { return t == DoorResidence }

func (t DoorType) valid() bool {
	switch t {
	case DoorEntrance, DoorResidence, DoorService, DoorCommunal:
		return true
	}
	return false
}

// AccessMethod is how a grant lets its holder in, besides an active keycard
// which every method admits.
type AccessMethod string

// Access methods.
const (
	MethodApp      AccessMethod = "app"
	MethodDoorcode AccessMethod = "doorcode"
)

func (m AccessMethod) valid() bool { return m == MethodApp || m == MethodDoorcode }

// Site is one building, the unit a hub serves.
type Site struct {
	ID             string `json:"id"`
	Name           string `json:"name,omitempty"`
	TimeZone       string `json:"timezone"`
	DoorcodeLength int    `json:"doorcode_length"`
	// DoorcodeSecret keys the daily doorcodes (docs/doorcode.md). It is a
	// secret: never logged, never shown on a surface.
	DoorcodeSecret []byte `json:"doorcode_secret"`
}

// Location loads the site's time zone.
func (s *Site) Location() (*time.Location, error) {
	return time.LoadLocation(s.TimeZone)
}

// Validate checks the site.
func (s *Site) Validate() error {
	if err := validateID("site.id", s.ID); err != nil {
		return err
	}
	if len(s.Name) > MaxNameLength {
		return invalid("site.name", nil, fmt.Sprintf("longer than %d bytes", MaxNameLength))
	}
	if s.TimeZone == "" {
		return invalid("site.timezone", nil, "required")
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		return invalid("site.timezone", s.TimeZone, "unknown time zone")
	}
	if s.DoorcodeLength < MinDoorcodeLength || s.DoorcodeLength > MaxDoorcodeLength {
		return invalid("site.doorcode_length", s.DoorcodeLength,
			fmt.Sprintf("must be %d to %d", MinDoorcodeLength, MaxDoorcodeLength))
	}
	if len(s.DoorcodeSecret) < MinDoorcodeSecret {
		return invalid("site.doorcode_secret", nil,
			fmt.Sprintf("must be at least %d bytes", MinDoorcodeSecret))
	}
	return nil
}

// Door is a door with a lock.
type Door struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	Type DoorType `json:"type"`
	// LockCapacity is how many entries the door's lock can hold in its own
	// list. Zero means DefaultLockCapacity.
	LockCapacity int `json:"lock_capacity,omitempty"`
	// Offline is what the door's lock does when it cannot reach the hub
	// and a credential has no entry in its list; "" is OfflineSecure.
	// It is pushed with the lock's list (docs/door-lists.md).
	Offline OfflineMode `json:"offline,omitempty"`
}

// OfflineMode is a door's lock's behaviour without the hub for what its
// list does not cover (docs/door-lists.md, "Offline mode").
type OfflineMode string

// Offline modes.
const (
	// OfflineSecure: the lock denies and locks the door, also one held
	// unlocked when the hub went away.
	OfflineSecure OfflineMode = "secure"
	// OfflineAsIs: the lock denies and leaves the door as it is: one
	// held unlocked stays unlocked until its time ends.
	OfflineAsIs OfflineMode = "as-is"
)

// Validate checks the door.
func (d *Door) Validate() error {
	if err := validateID("door.id", d.ID); err != nil {
		return err
	}
	if err := validateName("door.name", d.Name); err != nil {
		return err
	}
	if !d.Type.valid() {
		return invalid("door.type", string(d.Type), "must be entrance, residence, service or communal")
	}
	if d.LockCapacity < 0 {
		return invalid("door.lock_capacity", d.LockCapacity, "must not be negative")
	}
	if d.Offline != "" && d.Offline != OfflineSecure && d.Offline != OfflineAsIs {
		return invalid("door.offline", string(d.Offline), "must be secure or as-is")
	}
	return nil
}

// Key is a named set of doors.
type Key struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Doors            []string `json:"doors"`
	DoorcodesAllowed bool     `json:"doorcodes_allowed"`
	MayShareAllowed  bool     `json:"may_share_allowed"`
}

// Validate checks the key on its own; that its doors exist is checked when
// it is applied.
func (k *Key) Validate() error {
	if err := validateID("key.id", k.ID); err != nil {
		return err
	}
	if err := validateName("key.name", k.Name); err != nil {
		return err
	}
	seen := make(map[string]bool, len(k.Doors))
	for i, d := range k.Doors {
		field := fmt.Sprintf("key.doors[%d]", i)
		if err := validateID(field, d); err != nil {
			return err
		}
		if seen[d] {
			return invalid(field, d, "door listed twice")
		}
		seen[d] = true
	}
	return nil
}

// HasDoor reports whether the key opens the door.
func (k *Key) HasDoor(door string) bool {
	for _, d := range k.Doors {
		if d == door {
			return true
		}
	}
	return false
}

// Person is someone known at the site, identified by email
// (case-insensitive).
type Person struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// Manager: the person holds property-management permissions; their
	// activity is visible at every door.
	Manager bool `json:"manager,omitempty"`
	// Reroll is the person's doorcode re-roll counter: raising it gives the
	// person new daily doorcodes (after a collision or a leak).
	Reroll uint32 `json:"reroll,omitempty"`
}

// Validate checks the person.
func (p *Person) Validate() error {
	if err := validateID("person.id", p.ID); err != nil {
		return err
	}
	if err := ValidateEmail("person.email", p.Email); err != nil {
		return err
	}
	if len(p.Name) > MaxNameLength {
		return invalid("person.name", nil, fmt.Sprintf("longer than %d bytes", MaxNameLength))
	}
	return nil
}

// NormalizeEmail gives the identity form of an email: emails are
// case-insensitive identities.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ValidateEmail checks that email looks like one address.
func ValidateEmail(field, email string) error {
	if email == "" {
		return invalid(field, nil, "required")
	}
	if len(email) > 254 {
		return invalid(field, nil, "longer than 254 bytes")
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n,;<>") ||
		!strings.Contains(email[at+1:], ".") {
		return invalid(field, email, "not an email address")
	}
	return nil
}

// Grant gives a key to a person.
type Grant struct {
	ID       string `json:"id"`
	PersonID string `json:"person_id"`
	KeyID    string `json:"key_id"`
	// Resident: the person lives behind the key's residence doors; their
	// activity there is private.
	Resident bool `json:"resident"`
	// MayShare: the person may share this key with guests and services,
	// if the key allows sharing.
	MayShare bool         `json:"may_share"`
	StartsAt time.Time    `json:"starts_at"`
	Expires  *time.Time   `json:"expires_at,omitempty"`
	Method   AccessMethod `json:"method"`
}

// Validate checks the grant.
func (g *Grant) Validate() error {
	if err := validateID("grant.id", g.ID); err != nil {
		return err
	}
	if err := validateID("grant.person_id", g.PersonID); err != nil {
		return err
	}
	if err := validateID("grant.key_id", g.KeyID); err != nil {
		return err
	}
	if !g.Method.valid() {
		return invalid("grant.method", string(g.Method), "must be app or doorcode")
	}
	return validateWindow("grant", g.StartsAt, g.Expires)
}

// GuestGrant is a key shared by a host with a guest person or a named
// service. It is valid only while the host's grant of the same key is valid
// and may share.
type GuestGrant struct {
	ID      string `json:"id"`
	HostID  string `json:"host_id"`
	KeyID   string `json:"key_id"`
	GuestID string `json:"guest_id,omitempty"` // a person, or
	Service string `json:"service,omitempty"`  // a named service (dog walker, cleaner)
	// Permanent guests have no window; otherwise StartsAt/Expires apply.
	Permanent bool       `json:"permanent,omitempty"`
	StartsAt  time.Time  `json:"starts_at,omitempty"`
	Expires   *time.Time `json:"expires_at,omitempty"`
}

// Validate checks the guest grant.
func (g *GuestGrant) Validate() error {
	if err := validateID("guest_grant.id", g.ID); err != nil {
		return err
	}
	if err := validateID("guest_grant.host_id", g.HostID); err != nil {
		return err
	}
	if err := validateID("guest_grant.key_id", g.KeyID); err != nil {
		return err
	}
	switch {
	case g.GuestID != "" && g.Service != "":
		return invalid("guest_grant.service", g.Service, "a guest grant names a guest or a service, not both")
	case g.GuestID == "" && g.Service == "":
		return invalid("guest_grant.guest_id", nil, "a guest person or a service is required")
	case g.GuestID != "":
		if err := validateID("guest_grant.guest_id", g.GuestID); err != nil {
			return err
		}
		if g.GuestID == g.HostID {
			return invalid("guest_grant.guest_id", g.GuestID, "a host cannot be their own guest")
		}
	default:
		if err := validateName("guest_grant.service", g.Service); err != nil {
			return err
		}
	}
	if g.Permanent {
		if !g.StartsAt.IsZero() || g.Expires != nil {
			return invalid("guest_grant.permanent", true, "a permanent guest grant has no start or expiry")
		}
		return nil
	}
	if g.Expires == nil {
		return invalid("guest_grant.expires_at", nil, "required unless permanent")
	}
	return validateWindow("guest_grant", g.StartsAt, g.Expires)
}

// Keycard is a card a person presents at a lock.
type Keycard struct {
	// CardID is the card's identifier as lowercase hex. It is a credential
	// secret: never shown on a surface.
	CardID  string `json:"card_id"`
	OwnerID string `json:"owner_id"`
	Active  bool   `json:"active"`
}

// Validate checks the keycard.
func (k *Keycard) Validate() error {
	if err := ValidateCardID("keycard.card_id", k.CardID); err != nil {
		return err
	}
	return validateID("keycard.owner_id", k.OwnerID)
}

// ValidateCardID checks a card identifier: lowercase hex, 4 to 32 bytes.
func ValidateCardID(field, id string) error {
	b, err := hex.DecodeString(id)
	if err != nil || strings.ToLower(id) != id {
		return invalid(field, nil, "must be lowercase hex")
	}
	if len(b) < 4 || len(b) > MaxCardIDBytes {
		return invalid(field, nil, fmt.Sprintf("must be 4 to %d bytes", MaxCardIDBytes))
	}
	return nil
}

// Device is a person's phone, known by its Ed25519 public key.
type Device struct {
	ID        string            `json:"id"`
	OwnerID   string            `json:"owner_id"`
	PublicKey ed25519.PublicKey `json:"public_key"`
}

// Validate checks the device.
func (d *Device) Validate() error {
	if err := validateID("device.id", d.ID); err != nil {
		return err
	}
	if err := validateID("device.owner_id", d.OwnerID); err != nil {
		return err
	}
	if len(d.PublicKey) != ed25519.PublicKeySize {
		return invalid("device.public_key", len(d.PublicKey),
			fmt.Sprintf("must be %d bytes", ed25519.PublicKeySize))
	}
	return nil
}

// GuestCodeKind is the lifetime of a guest doorcode.
type GuestCodeKind string

// Guest code kinds.
const (
	// CodeSingleDay is valid on one local date, midnight to midnight.
	CodeSingleDay GuestCodeKind = "single_day"
	// CodeFifteenMinute expires 15 minutes after its first use at any door
	// of the hub; it can be used first between StartsAt and Expires.
	CodeFifteenMinute GuestCodeKind = "fifteen_minute"
)

// GuestCode is a doorcode a host shared with a guest.
type GuestCode struct {
	ID     string        `json:"id"`
	HostID string        `json:"host_id"`
	KeyID  string        `json:"key_id"`
	Kind   GuestCodeKind `json:"kind"`
	// Code is the digits. It is a credential secret.
	Code string `json:"code"`
	// Date is the local date (YYYY-MM-DD, site time zone) of a single-day
	// code.
	Date string `json:"date,omitempty"`
	// StartsAt and Expires bound the first use of a fifteen-minute code.
	StartsAt time.Time  `json:"starts_at,omitempty"`
	Expires  *time.Time `json:"expires_at,omitempty"`
}

// Validate checks the guest code; that the code has the site's length is
// checked when it is applied.
func (c *GuestCode) Validate() error {
	if err := validateID("guest_code.id", c.ID); err != nil {
		return err
	}
	if err := validateID("guest_code.host_id", c.HostID); err != nil {
		return err
	}
	if err := validateID("guest_code.key_id", c.KeyID); err != nil {
		return err
	}
	if err := validateDigits("guest_code.code", c.Code); err != nil {
		return err
	}
	switch c.Kind {
	case CodeSingleDay:
		if _, err := time.Parse(time.DateOnly, c.Date); err != nil {
			return invalid("guest_code.date", c.Date, "must be a date YYYY-MM-DD")
		}
		if !c.StartsAt.IsZero() || c.Expires != nil {
			return invalid("guest_code.starts_at", nil, "a single-day code has a date, not a window")
		}
	case CodeFifteenMinute:
		if c.Date != "" {
			return invalid("guest_code.date", c.Date, "a fifteen-minute code has a window, not a date")
		}
		if c.Expires == nil {
			return invalid("guest_code.expires_at", nil, "required: the last moment of a first use")
		}
		return validateWindow("guest_code", c.StartsAt, c.Expires)
	default:
		return invalid("guest_code.kind", string(c.Kind), "must be single_day or fifteen_minute")
	}
	return nil
}

// Tour is a self-guided tour booked through an integration: one code valid
// for the tour's window at the doors of its allowlisted keys.
type Tour struct {
	ID          string    `json:"id"`
	Integration string    `json:"integration"`
	Code        string    `json:"code"` // a credential secret
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	Keys        []string  `json:"keys"`
}

// Validate checks the tour; its code length and keys are checked when it is
// applied.
func (t *Tour) Validate() error {
	if err := validateID("tour.id", t.ID); err != nil {
		return err
	}
	if err := validateName("tour.integration", t.Integration); err != nil {
		return err
	}
	if err := validateDigits("tour.code", t.Code); err != nil {
		return err
	}
	if t.StartsAt.IsZero() {
		return invalid("tour.starts_at", nil, "required")
	}
	if !t.EndsAt.After(t.StartsAt) {
		return invalid("tour.ends_at", t.EndsAt.Format(time.RFC3339), "must be after starts_at")
	}
	if len(t.Keys) == 0 {
		return invalid("tour.keys", nil, "at least one key is required")
	}
	for i, k := range t.Keys {
		if err := validateID(fmt.Sprintf("tour.keys[%d]", i), k); err != nil {
			return err
		}
	}
	return nil
}

// Allowlist names the keys an integration may open doors of for tours.
type Allowlist struct {
	Integration string   `json:"integration"`
	Keys        []string `json:"keys"`
}

// Validate checks the allowlist.
func (a *Allowlist) Validate() error {
	if err := validateName("allowlist.integration", a.Integration); err != nil {
		return err
	}
	for i, k := range a.Keys {
		if err := validateID(fmt.Sprintf("allowlist.keys[%d]", i), k); err != nil {
			return err
		}
	}
	return nil
}

func validateID(field, id string) error {
	if id == "" {
		return invalid(field, nil, "required")
	}
	if len(id) > MaxIDLength {
		return invalid(field, id, fmt.Sprintf("longer than %d bytes", MaxIDLength))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return invalid(field, id, "may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

func validateName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid(field, nil, "required")
	}
	if len(name) > MaxNameLength {
		return invalid(field, nil, fmt.Sprintf("longer than %d bytes", MaxNameLength))
	}
	return nil
}

// validateDigits never echoes the code: codes are credential secrets.
func validateDigits(field, code string) error {
	if len(code) < MinDoorcodeLength || len(code) > MaxDoorcodeLength {
		return invalid(field, nil, fmt.Sprintf("must be %d to %d digits", MinDoorcodeLength, MaxDoorcodeLength))
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return invalid(field, nil, "must be digits only")
		}
	}
	return nil
}

func validateWindow(prefix string, start time.Time, expires *time.Time) error {
	if start.IsZero() {
		return invalid(prefix+".starts_at", nil, "required")
	}
	if expires != nil && !expires.After(start) {
		return invalid(prefix+".expires_at", expires.Format(time.RFC3339), "must be after starts_at")
	}
	return nil
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
