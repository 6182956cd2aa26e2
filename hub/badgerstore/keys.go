package badgerstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/doorhub/doorhub/hub"
)

// The key space (docs/store.md):
//
//	m/format              layout version, 8 bytes big-endian (formatVersion)
//	m/gen                 the current generation, 8 bytes big-endian
//	m/version             the version of the set, 8 bytes big-endian
//	m/floor               the clock floor, time.MarshalBinary
//	m/journal             present while a journaled batch is replayed: its journal id
//	c/<gen>/<kind>/<id>   one record of generation gen (16 hex digits), JSON
//	j/<journal>/<seq>     a journaled batch's changes, JSON chunks
//	u/<guest code id>     first use of a fifteen-minute guest code, time.MarshalBinary
//
// Only c/ keys belong to a generation: a snapshot writes a new one and
// flips m/gen; first uses, the floor and the version live outside.
const (
	keyFormat  = "m/format"
	keyGen     = "m/gen"
	keyVersion = "m/version"
	keyFloor   = "m/floor"
	keyJournal = "m/journal"

	prefixRecords  = "c/"
	prefixJournal  = "j/"
	prefixFirstUse = "u/"

	formatVersion = 1
)

func genPrefix(gen uint64) []byte { return fmt.Appendf(nil, "c/%016x/", gen) }

func kindPrefix(gen uint64, kind hub.Kind) []byte {
	return append(append(genPrefix(gen), kind...), '/')
}

func recordKey(gen uint64, kind hub.Kind, id string) []byte {
	return append(kindPrefix(gen, kind), id...)
}

// genOf parses the generation of a c/ key.
func genOf(key []byte) (uint64, bool) {
	if len(key) < len("c/0000000000000000/") || string(key[:2]) != prefixRecords {
		return 0, false
	}
	g, err := strconv.ParseUint(string(key[2:18]), 16, 64)
	return g, err == nil
}

// Journal ids, like generations, only grow: a journal whose keys the
// reaper is still removing is never written again.
func journalPrefix(journal uint64) []byte { return fmt.Appendf(nil, "j/%016x/", journal) }

func journalKey(journal uint64, seq int) []byte {
	return fmt.Appendf(journalPrefix(journal), "%08x", seq)
}

// journalOf parses the journal id of a j/ key.
func journalOf(key []byte) (uint64, bool) {
	if len(key) < len("j/0000000000000000/") || string(key[:2]) != prefixJournal {
		return 0, false
	}
	v, err := strconv.ParseUint(string(key[2:18]), 16, 64)
	return v, err == nil
}

func firstUseKey(codeID string) []byte { return append([]byte(prefixFirstUse), codeID...) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func parseU64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("badgerstore: a counter of %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// kindCodec decodes the records of one kind into the puts that load them.
type kindCodec struct {
	kind   hub.Kind
	decode func([]byte) (hub.Op, error)
}

func decoder[T any](op hub.OpType, set func(*hub.Op, *T)) func([]byte) (hub.Op, error) {
	return func(b []byte) (hub.Op, error) {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return hub.Op{}, err
		}
		o := hub.Op{Type: op}
		set(&o, v)
		return o, nil
	}
}

// loadOrder lists the kinds in dependency order: every record refers only
// to kinds before its own, so a generation loads kind by kind.
var loadOrder = []kindCodec{
	{hub.KindSite, decoder(hub.OpPutSite, func(o *hub.Op, v *hub.Site) { o.Site = v })},
	{hub.KindDoor, decoder(hub.OpPutDoor, func(o *hub.Op, v *hub.Door) { o.Door = v })},
	{hub.KindKey, decoder(hub.OpPutKey, func(o *hub.Op, v *hub.Key) { o.Key = v })},
	{hub.KindPerson, decoder(hub.OpPutPerson, func(o *hub.Op, v *hub.Person) { o.Person = v })},
	{hub.KindGrant, decoder(hub.OpPutGrant, func(o *hub.Op, v *hub.Grant) { o.Grant = v })},
	{hub.KindGuestGrant, decoder(hub.OpPutGuestGrant, func(o *hub.Op, v *hub.GuestGrant) { o.GuestGrant = v })},
	{hub.KindKeycard, decoder(hub.OpPutKeycard, func(o *hub.Op, v *hub.Keycard) { o.Keycard = v })},
	{hub.KindDevice, decoder(hub.OpPutDevice, func(o *hub.Op, v *hub.Device) { o.Device = v })},
	{hub.KindGuestCode, decoder(hub.OpPutGuestCode, func(o *hub.Op, v *hub.GuestCode) { o.GuestCode = v })},
	{hub.KindTour, decoder(hub.OpPutTour, func(o *hub.Op, v *hub.Tour) { o.Tour = v })},
	{hub.KindAllowlist, decoder(hub.OpPutAllowlist, func(o *hub.Op, v *hub.Allowlist) { o.Allowlist = v })},
}

// opRecord returns the kind, id and record of a put, as Catalog.Apply
// names them in a Change (the site has the empty id).
func opRecord(op *hub.Op) (hub.Kind, string, any) {
	switch {
	case op.Site != nil:
		return hub.KindSite, "", op.Site
	case op.Door != nil:
		return hub.KindDoor, op.Door.ID, op.Door
	case op.Key != nil:
		return hub.KindKey, op.Key.ID, op.Key
	case op.Person != nil:
		return hub.KindPerson, op.Person.ID, op.Person
	case op.Grant != nil:
		return hub.KindGrant, op.Grant.ID, op.Grant
	case op.GuestGrant != nil:
		return hub.KindGuestGrant, op.GuestGrant.ID, op.GuestGrant
	case op.Keycard != nil:
		return hub.KindKeycard, op.Keycard.CardID, op.Keycard
	case op.Device != nil:
		return hub.KindDevice, op.Device.ID, op.Device
	case op.GuestCode != nil:
		return hub.KindGuestCode, op.GuestCode.ID, op.GuestCode
	case op.Tour != nil:
		return hub.KindTour, op.Tour.ID, op.Tour
	case op.Allowlist != nil:
		return hub.KindAllowlist, op.Allowlist.Integration, op.Allowlist
	}
	return "", "", nil
}

// kindFirstUse marks a journal entry that removes u/<id>, the first use
// of a guest code the batch deleted.
const kindFirstUse hub.Kind = "first_use"

// journalEntry is one change of a journaled batch: the final state of a
// record, or a deletion (V null).
type journalEntry struct {
	Kind hub.Kind        `json:"k"`
	ID   string          `json:"i"`
	V    json.RawMessage `json:"v"`
}
