package cloudlink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Batch is the body of a "batch" message: a hub.Batch exactly as the hub
// domain encodes it (site, version, base_version, issued_at, ops).
//
// Its schema check covers what the hub needs to order it (a site, and a
// version above its base); everything else about the ops is checked by the
// store when it applies the batch, and a refusal is reported in an Ack.
type Batch struct {
	hub.Batch
}

// MessageType implements Body.
func (*Batch) MessageType() Type { return TypeBatch }

func (b *Batch) check() error {
	if b.Site == "" {
		return schemaf("batch.site is required")
	}
	if b.Version <= b.Base {
		return schemaf("batch.version %d is not above base_version %d", b.Version, b.Base)
	}
	return nil
}

// MaxSnapshotChunks bounds a snapshot's chunk count (at 120 KiB a chunk,
// 7.5 GiB: far beyond any site).
const MaxSnapshotChunks = 1 << 16

// SnapshotChunk is the body of a "snapshot_chunk" message: chunk Index of
// Count of the snapshot SnapshotID of the site's set at Version.
//
// SHA256 is the lowercase hex SHA-256 of the concatenation, in index
// order, of every chunk's Ops bytes exactly as they appear in the payload;
// every chunk of a snapshot carries the same value. Ops is a JSON array of
// hub.Op (puts only, in dependency order across chunks); it is kept raw so
// that the digest is computed on the bytes that were signed.
type SnapshotChunk struct {
	SnapshotID string          `json:"snapshot_id"`
	Site       string          `json:"site"`
	Version    uint64          `json:"version"`
	Index      int             `json:"index"`
	Count      int             `json:"count"`
	SHA256     string          `json:"sha256"`
	Ops        json.RawMessage `json:"ops"`
}

// appendJSON appends the chunk as json.Marshal writes it when its ops are
// compact JSON as json.Marshal writes them (as SplitSnapshot cuts them):
// the ops go in as they are, not compacted again. ok is false when a
// string field would need escaping (then the caller uses json.Marshal).
func (c *SnapshotChunk) appendJSON(b []byte) (_ []byte, ok bool) {
	if !plainJSONString(c.SnapshotID) || !plainJSONString(c.Site) || !plainJSONString(c.SHA256) {
		return b, false
	}
	b = append(b, `{"snapshot_id":"`...)
	b = append(b, c.SnapshotID...)
	b = append(b, `","site":"`...)
	b = append(b, c.Site...)
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, c.Version, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(c.Index), 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(c.Count), 10)
	b = append(b, `,"sha256":"`...)
	b = append(b, c.SHA256...)
	b = append(b, `","ops":`...)
	b = append(b, c.Ops...)
	return append(b, '}'), true
}

// plainJSONString reports whether json.Marshal writes s between quotes
// as it is: printable ASCII, no quote, backslash or HTML character.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// MessageType implements Body.
func (*SnapshotChunk) MessageType() Type { return TypeSnapshotChunk }

func (c *SnapshotChunk) check() error {
	if err := checkName("snapshot_id", c.SnapshotID); err != nil {
		return err
	}
	if c.Site == "" {
		return schemaf("site is required")
	}
	if c.Version == 0 {
		return schemaf("version must be at least 1")
	}
	if c.Count < 1 || c.Count > MaxSnapshotChunks {
		return schemaf("count %d is not 1 to %d", c.Count, MaxSnapshotChunks)
	}
	if c.Index < 0 || c.Index >= c.Count {
		return schemaf("index %d is not below count %d", c.Index, c.Count)
	}
	if !isLowerHex(c.SHA256, 64) {
		return schemaf("sha256 must be 64 lowercase hex digits")
	}
	if o := bytes.TrimSpace(c.Ops); len(o) < 2 || o[0] != '[' {
		return schemaf("ops must be a JSON array")
	}
	return nil
}

// DecodeOps decodes the chunk's ops.
func (c *SnapshotChunk) DecodeOps() ([]hub.Op, error) {
	// Room for every op at once, not a slice grown a thousand times: an
	// op opens with its "op" key; a count that is off only sizes the
	// slice.
	ops := make([]hub.Op, 0, min(bytes.Count(c.Ops, []byte(`"op"`)), len(c.Ops)/16))
	if err := json.Unmarshal(c.Ops, &ops); err != nil {
		return nil, schemaf("snapshot chunk %d ops: %v", c.Index, err)
	}
	return ops, nil
}

// Resync is the body of a "resync" command: the cloud asks the hub to
// announce what it holds. The hub answers with a Need from its version
// (asking for a snapshot when Snapshot is set), republishes its status,
// doors and pending reports, and replies.
type Resync struct {
	// Snapshot: the hub asks for a full snapshot whatever its version
	// (the cloud suspects the hub's set).
	Snapshot bool `json:"snapshot,omitempty"`
	// Reason is free text for the hub's log.
	Reason string `json:"reason,omitempty"`
}

// MessageType implements Body.
func (*Resync) MessageType() Type { return TypeResync }

func (r *Resync) check() error {
	if len(r.Reason) > maxText {
		return schemaf("reason longer than %d bytes", maxText)
	}
	return nil
}

// MaxHoldSeconds bounds Unlock.HoldSeconds.
const MaxHoldSeconds = 3600

// Unlock is the body of an "unlock" command: open a door now. Its nonce and
// expiry are the envelope's id and expires_at, both signed; the hub refuses
// it once expired, a second time, or while its clock is untrusted.
type Unlock struct {
	Door string `json:"door"`
	// By is the person (a manager) who asked, for the activity event.
	By string `json:"by,omitempty"`
	// HoldSeconds is how long the door stays unlocked; 0 is the lock's
	// default.
	HoldSeconds int `json:"hold_seconds,omitempty"`
}

// MessageType implements Body.
func (*Unlock) MessageType() Type { return TypeUnlock }

func (u *Unlock) check() error {
	if err := checkName("door", u.Door); err != nil {
		return err
	}
	if u.By != "" {
		if err := checkName("by", u.By); err != nil {
			return err
		}
	}
	if u.HoldSeconds < 0 || u.HoldSeconds > MaxHoldSeconds {
		return schemaf("hold_seconds %d is not 0 to %d", u.HoldSeconds, MaxHoldSeconds)
	}
	return nil
}

// TimeHint is the body of a "time" message: the cloud's signed time.
//
// A reply to a TimeRequest echoes its nonce in Request; a hub whose clock
// is untrusted may trust Now only from such a reply to a request it sent
// moments ago (its freshness is the nonce, not the clock being fixed). An
// unsolicited hint (no Request) only proves that the time is at least Now.
type TimeHint struct {
	Now     time.Time `json:"now"`
	Request string    `json:"request,omitempty"`
}

// MessageType implements Body.
func (*TimeHint) MessageType() Type { return TypeTime }

func (h *TimeHint) check() error {
	if h.Now.IsZero() {
		return schemaf("now is required")
	}
	if h.Request != "" {
		if err := checkNonce("request", h.Request); err != nil {
			return err
		}
	}
	return nil
}

// maxText bounds free-text fields.
const maxText = 512

func schemaf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSchema}, args...)...)
}

// checkName checks an id-like field (record ids, snapshot ids): 1 to 64
// letters, digits, '-', '_' or '.' (the hub domain's id rule).
func checkName(field, s string) error {
	if s == "" {
		return schemaf("%s is required", field)
	}
	if len(s) > hub.MaxIDLength || !isIDString(s, true) {
		return schemaf("%s must be 1 to %d letters, digits, '-', '_' or '.'", field, hub.MaxIDLength)
	}
	return nil
}

// Message ids and nonces: 16 to 64 characters of base64url.
const (
	minNonceLength = 16
	maxNonceLength = 64
)

func checkNonce(field, s string) error {
	if len(s) < minNonceLength || len(s) > maxNonceLength || !isIDString(s, false) {
		return schemaf("%s must be %d to %d characters of [A-Za-z0-9_-]", field, minNonceLength, maxNonceLength)
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
