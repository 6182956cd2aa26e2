package cloudlink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The downlink envelope and the snapshot chunk body are read in one pass
// over JSON that json.Valid accepted: the members of an object are
// walked, each value's bytes found by skipping it, and only the fields the
// message has are decoded. What it accepts and how it decodes each field
// is what encoding/json does (fuzzed against it in jsonscan_test.go):
//
//   - a key matches a field's name exactly or, failing that, under
//     bytes.EqualFold (encoding/json's case folding); keys are unquoted
//     as encoding/json unquotes them;
//   - of a repeated field the last value counts; null leaves a string or
//     a number field as it was and sets a raw field to "null";
//   - a string field takes a JSON string, a number field an integer that
//     strconv parses in base 10 and that fits; anything else is a type
//     error, as is (when the caller refuses them) an unknown key.

// eachMember calls fn with the raw key (quotes included) and the value
// bytes (no surrounding space) of each member of obj, in order. obj must
// be valid JSON, an object, without surrounding space.
func eachMember(obj []byte, fn func(key, val []byte)) {
	i := 1
	for {
		i = skipSpace(obj, i)
		switch obj[i] {
		case '}':
			return
		case ',':
			i = skipSpace(obj, i+1)
		}
		kEnd := endOfString(obj, i)
		key := obj[i:kEnd]
		i = skipSpace(obj, kEnd) + 1 // the colon
		i = skipSpace(obj, i)
		vEnd := endOfValue(obj, i)
		fn(key, obj[i:vEnd])
		i = vEnd
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index after the string that opens at b[i].
func endOfString(b []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		j += q
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// endOfValue returns the index after the value that starts at b[i].
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j = endOfString(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return len(b)
	default: // a number, true, false or null
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
			j++
		}
		return j
	}
}

// unquote decodes a JSON string token as encoding/json does.
func unquote(tok []byte) (string, bool) {
	in := tok[1 : len(tok)-1]
	plain := true
	for _, c := range in {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(in), true
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return "", false
	}
	return s, true
}

// fieldIndex is the index in names of the field key names, or -1: an exact
// match first, then a match under case folding.
func fieldIndex(key []byte, names []string) int {
	k := key[1 : len(key)-1]
	if bytes.IndexByte(k, '\\') >= 0 || !isASCII(k) {
		s, ok := unquote(key)
		if !ok {
			return -1
		}
		k = []byte(s)
	}
	for i, n := range names {
		if string(k) == n {
			return i
		}
	}
	for i, n := range names {
		if bytes.EqualFold(k, []byte(n)) {
			return i
		}
	}
	return -1
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// setString decodes val into *dst as encoding/json does for a string
// field: null leaves it, anything but a string is a type error.
func setString[S ~string](dst *S, field string, val []byte) error {
	switch val[0] {
	case 'n':
		return nil
	case '"':
		s, ok := unquote(val)
		if !ok {
			return fmt.Errorf("json: cannot unquote field %s", field)
		}
		*dst = S(s)
		return nil
	}
	return typeError(field, val)
}

// setUint and setInt decode val into *dst as encoding/json does for an
// integer field: null leaves it; a number must parse in base 10 and fit.
func setUint(dst *uint64, field string, val []byte) error {
	switch c := val[0]; {
	case c == 'n':
		return nil
	case c == '-' || c >= '0' && c <= '9':
		n, err := strconv.ParseUint(string(val), 10, 64)
		if err != nil {
			return typeError(field, val)
		}
		*dst = n
		return nil
	}
	return typeError(field, val)
}

func setInt(dst *int, field string, val []byte) error {
	switch c := val[0]; {
	case c == 'n':
		return nil
	case c == '-' || c >= '0' && c <= '9':
		n, err := strconv.ParseInt(string(val), 10, strconv.IntSize)
		if err != nil {
			return typeError(field, val)
		}
		*dst = int(n)
		return nil
	}
	return typeError(field, val)
}

func typeError(field string, val []byte) error {
	return fmt.Errorf("json: cannot unmarshal %s into field %s", clip(string(val), 16), field)
}

// Envelope fields, in downEnvelope's order.
var downFields = []string{"v", "type", "hub", "id", "issued_at", "expires_at", "body", "sig"}

// decodeDownEnvelope is decodeEnvelope(payload, &downEnvelope{}) in one
// pass: the same checks in the same order with the same outcome, the
// payload scanned once by json.Valid and once to find the fields. Body
// and V are slices of payload.
func decodeDownEnvelope(payload []byte) (*downEnvelope, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		return nil, fmt.Errorf("%w: not one JSON object", ErrMalformed)
	}
	env := &downEnvelope{}
	var schema error
	keep := func(err error) {
		if schema == nil {
			schema = err
		}
	}
	eachMember(p, func(key, val []byte) {
		switch fieldIndex(key, downFields) {
		case 0:
			env.V = val
		case 1:
			keep(setString(&env.Type, "type", val))
		case 2:
			keep(setString(&env.Hub, "hub", val))
		case 3:
			keep(setString(&env.ID, "id", val))
		case 4:
			keep(setString(&env.IssuedAt, "issued_at", val))
		case 5:
			keep(setString(&env.ExpiresAt, "expires_at", val))
		case 6:
			env.Body = val
		case 7:
			keep(setString(&env.Sig, "sig", val))
		default:
			k, _ := unquote(key)
			keep(fmt.Errorf("json: unknown field %q", k))
		}
	})
	if env.V == nil {
		return nil, fmt.Errorf("%w: the schema version \"v\" is missing", ErrSchema)
	}
	if string(env.V) != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Errorf("%w: v is %s, this hub speaks %d", ErrUnsupportedVersion, clip(string(env.V), 16), SchemaVersion)
	}
	if schema != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrSchema, schema)
	}
	return env, nil
}

// Snapshot chunk body fields, in SnapshotChunk's order.
var chunkFields = []string{"snapshot_id", "site", "version", "index", "count", "sha256", "ops"}

// decodeChunk is json.Unmarshal(body, c) for a body that is valid JSON
// and an object (a slice of a payload decodeDownEnvelope accepted):
// unknown fields are ignored, as json.Unmarshal ignores them. Ops is
// copied.
func decodeChunk(body []byte, c *SnapshotChunk) error {
	var err error
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	eachMember(body, func(key, val []byte) {
		switch fieldIndex(key, chunkFields) {
		case 0:
			keep(setString(&c.SnapshotID, "snapshot_id", val))
		case 1:
			keep(setString(&c.Site, "site", val))
		case 2:
			keep(setUint(&c.Version, "version", val))
		case 3:
			keep(setInt(&c.Index, "index", val))
		case 4:
			keep(setInt(&c.Count, "count", val))
		case 5:
			keep(setString(&c.SHA256, "sha256", val))
		case 6:
			c.Ops = append(json.RawMessage(nil), val...)
		}
	})
	return err
}
