package hub

import (
	"fmt"
	"time"
)

// OpType names one change to the credential set.
type OpType string

// Operations. A put creates or replaces the record with the same id; a
// delete removes it and what depends on it (see docs/access-rules.md,
// "Changes"). RevokePerson removes every grant of a person and every guest
// access they granted, and keeps the person known.
const (
	OpPutSite          OpType = "put_site"
	OpPutDoor          OpType = "put_door"
	OpDeleteDoor       OpType = "delete_door"
	OpPutKey           OpType = "put_key"
	OpDeleteKey        OpType = "delete_key"
	OpPutPerson        OpType = "put_person"
	OpRevokePerson     OpType = "revoke_person"
	OpDeletePerson     OpType = "delete_person"
	OpPutGrant         OpType = "put_grant"
	OpDeleteGrant      OpType = "delete_grant"
	OpPutGuestGrant    OpType = "put_guest_grant"
	OpDeleteGuestGrant OpType = "delete_guest_grant"
	OpPutKeycard       OpType = "put_keycard"
	OpDeleteKeycard    OpType = "delete_keycard"
	OpPutDevice        OpType = "put_device"
	OpDeleteDevice     OpType = "delete_device"
	OpPutGuestCode     OpType = "put_guest_code"
	OpDeleteGuestCode  OpType = "delete_guest_code"
	OpPutTour          OpType = "put_tour"
	OpDeleteTour       OpType = "delete_tour"
	OpPutAllowlist     OpType = "put_allowlist"
	OpDeleteAllowlist  OpType = "delete_allowlist"
)

// Op is one change. Exactly the field that belongs to Type is set: the
// record for a put, ID for a delete or a revoke (for keycards the card id,
// for allowlists the integration name).
type Op struct {
	Type       OpType      `json:"op"`
	ID         string      `json:"id,omitempty"`
	Site       *Site       `json:"site,omitempty"`
	Door       *Door       `json:"door,omitempty"`
	Key        *Key        `json:"key,omitempty"`
	Person     *Person     `json:"person,omitempty"`
	Grant      *Grant      `json:"grant,omitempty"`
	GuestGrant *GuestGrant `json:"guest_grant,omitempty"`
	Keycard    *Keycard    `json:"keycard,omitempty"`
	Device     *Device     `json:"device,omitempty"`
	GuestCode  *GuestCode  `json:"guest_code,omitempty"`
	Tour       *Tour       `json:"tour,omitempty"`
	Allowlist  *Allowlist  `json:"allowlist,omitempty"`
}

// record returns the op's record field, or nil.
func (o *Op) record() (name string, v validator, set int) {
	fields := []struct {
		name string
		v    validator
		ok   bool
	}{
		{"site", o.Site, o.Site != nil},
		{"door", o.Door, o.Door != nil},
		{"key", o.Key, o.Key != nil},
		{"person", o.Person, o.Person != nil},
		{"grant", o.Grant, o.Grant != nil},
		{"guest_grant", o.GuestGrant, o.GuestGrant != nil},
		{"keycard", o.Keycard, o.Keycard != nil},
		{"device", o.Device, o.Device != nil},
		{"guest_code", o.GuestCode, o.GuestCode != nil},
		{"tour", o.Tour, o.Tour != nil},
		{"allowlist", o.Allowlist, o.Allowlist != nil},
	}
	for _, f := range fields {
		if f.ok {
			set++
			name, v = f.name, f.v
		}
	}
	return name, v, set
}

type validator interface{ Validate() error }

// putField maps each put op to the name of its record field.
var putField = map[OpType]string{
	OpPutSite: "site", OpPutDoor: "door", OpPutKey: "key", OpPutPerson: "person",
	OpPutGrant: "grant", OpPutGuestGrant: "guest_grant", OpPutKeycard: "keycard",
	OpPutDevice: "device", OpPutGuestCode: "guest_code", OpPutTour: "tour",
	OpPutAllowlist: "allowlist",
}

var idOps = map[OpType]bool{
	OpDeleteDoor: true, OpDeleteKey: true, OpRevokePerson: true, OpDeletePerson: true,
	OpDeleteGrant: true, OpDeleteGuestGrant: true, OpDeleteKeycard: true,
	OpDeleteDevice: true, OpDeleteGuestCode: true, OpDeleteTour: true,
	OpDeleteAllowlist: true,
}

// Validate checks the op on its own: its type is known, exactly its field
// is set and that record is valid.
func (o *Op) Validate() error {
	name, v, set := o.record()
	if want, ok := putField[o.Type]; ok {
		if set != 1 || name != want || o.ID != "" {
			return invalid("op", string(o.Type), "a "+string(o.Type)+" op carries exactly the field "+want)
		}
		return v.Validate()
	}
	if idOps[o.Type] {
		if set != 0 {
			return invalid("op", string(o.Type), "a "+string(o.Type)+" op carries only id")
		}
		if o.Type == OpDeleteKeycard {
			return ValidateCardID("id", o.ID)
		}
		if o.Type == OpDeleteAllowlist {
			return validateName("id", o.ID)
		}
		return validateID("id", o.ID)
	}
	return invalid("op", string(o.Type), "unknown operation")
}

// Batch is one versioned change to the credential set. It applies on top of
// Base and leaves the set at Version.
type Batch struct {
	Site     string    `json:"site"`
	Version  uint64    `json:"version"`
	Base     uint64    `json:"base_version"`
	IssuedAt time.Time `json:"issued_at"`
	Ops      []Op      `json:"ops"`
}

// MaxOpsPerBatch bounds one batch; larger changes go as several batches or
// as a snapshot.
const MaxOpsPerBatch = 10000

// Validate checks the batch on its own (not against a store).
func (b *Batch) Validate() error {
	if err := validateID("batch.site", b.Site); err != nil {
		return err
	}
	if b.Version <= b.Base {
		return invalid("batch.version", b.Version, fmt.Sprintf("must be greater than base_version %d", b.Base))
	}
	if len(b.Ops) == 0 {
		return invalid("batch.ops", nil, "at least one op is required")
	}
	if len(b.Ops) > MaxOpsPerBatch {
		return invalid("batch.ops", len(b.Ops), fmt.Sprintf("at most %d ops", MaxOpsPerBatch))
	}
	for i := range b.Ops {
		if err := b.Ops[i].Validate(); err != nil {
			return fmt.Errorf("batch.ops[%d] (%s): %w", i, b.Ops[i].Type, err)
		}
	}
	return nil
}

// Snapshot is the whole credential set at a version. Its ops are puts only,
// in dependency order (site, doors, keys, people, then what refers to them);
// it replaces the set atomically.
type Snapshot struct {
	Site    string `json:"site"`
	Version uint64 `json:"version"`
	Ops     []Op   `json:"ops"`
}
