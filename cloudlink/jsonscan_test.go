package cloudlink

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// jsonSeeds are envelopes and bodies at the edges of what encoding/json
// accepts: folded and escaped keys, repeated fields, null, odd spacing,
// strings full of escapes, wrong types, trailing data.
var jsonSeeds = []string{
	`{"v":1,"type":"snapshot_chunk","hub":"hub-0001","id":"Tz8yU3iO6pA1sD4fG7hJ0k","issued_at":"2026-11-27T18:00:00.000Z","expires_at":"2026-11-28T18:00:00.000Z","body":{"snapshot_id":"s-1","site":"s1","version":40,"index":0,"count":1,"sha256":"ab","ops":[{"op":"put_door","door":{"id":"x","name":"a \"quoted\\\" }] name"}}]},"sig":"AAAA"}`,
	` {"V":1,"TYPE":"batch","Hub":"h","\u0069d":"x","issued_AT":"t","ExpireS_at":"e","BODY":{},"ſig":"s"}` + "\n",
	`{"v":1,"v":2}`, `{"v":2,"v":1}`, `{"v":null}`, `{"v":"1"}`, `{"v":1.0}`, `{"v":1,"extra":true}`,
	`{"v":1,"hub":5}`, `{"v":1,"hub":null}`, `{"v":1,"hub":"a","hub":null}`, `{"v":1,"hub":["a"]}`, `{"v":1,"hub":{"a":1}}`,
	`{"v":1,"body":null}`, `{"v":1,"body":[1,2]}`, `{"v":1,"body":"{}"}`, `{"v":1} x`, `{"v":1}{}`, `{}`, `[]`, `1`, ``,
	`{"v":1,"hub":"h\ud800x","type":"\u0062atch"}`, "{\"v\":1,\"hub\":\"\xff\"}", `{"v":1,"\u212a":1}`, `{"v" : 1 , "sig" : "x" }`,
	"\u00a0{\"v\":1}", `{"v":1,"id":"a\\","sig":"b\\\\"}`,
	`{"snapshot_id":"s","site":"s1","version":40,"index":0,"count":1,"sha256":"00","ops":[]}`,
	`{"SNAPSHOT_ID":"s","version":-1}`, `{"version":1e3}`, `{"version":18446744073709551616}`, `{"index":9223372036854775808}`,
	`{"index":-0,"count":"1"}`, `{"version":null,"index":null,"ops":null}`, `{"ops":{"a":[1,{"b":"]"}]},"ops":[1]}`,
	`{"index":1.5}`, `{"count":true}`, `{"site":{}}`, `{"unknown":[{"x":"\"}"}],"site":"s"}`,
}

// FuzzDownEnvelopeSameAsStdlib: the one-pass envelope decoder refuses
// what the encoding/json one refuses, for the same reason, and reads the
// same fields from what it accepts.
func FuzzDownEnvelopeSameAsStdlib(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		want, wantErr := decodeEnvelope(payload, &downEnvelope{})
		got, err := decodeDownEnvelope(payload)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: one pass %v, encoding/json %v", payload, err, wantErr)
		}
		if err != nil {
			for _, s := range []error{ErrMalformed, ErrSchema, ErrUnsupportedVersion} {
				if errors.Is(err, s) != errors.Is(wantErr, s) {
					t.Fatalf("%q: one pass %v, encoding/json %v", payload, err, wantErr)
				}
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\none pass      %+v\nencoding/json %+v", payload, got, want)
		}
	})
}

// FuzzChunkBodySameAsStdlib: decodeChunk reads a body as json.Unmarshal
// does.
func FuzzChunkBodySameAsStdlib(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.TrimSpace(body)
		if len(body) == 0 || body[0] != '{' || !json.Valid(body) || strings.TrimSpace(string(body)) != string(body) {
			return // Open hands decodeChunk only a valid object without surrounding space
		}
		var want, got SnapshotChunk
		wantErr := json.Unmarshal(body, &want)
		err := decodeChunk(body, &got)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: one pass %v, encoding/json %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\none pass      %+v\nencoding/json %+v", body, got, want)
		}
	})
}
