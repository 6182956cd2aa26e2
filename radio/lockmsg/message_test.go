package lockmsg

import (
	"github.com/doorhub/doorhub/radio/internal/annotated"

	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// hx parses annotated hex (see package annotated).
func hx(s string) []byte { return annotated.Hex(s) }

func digest(s string) (d [DigestSize]byte) { copy(d[:], hx(s)); return d }

var testStatus = Status{
	Firmware:          Firmware{1, 4, 2},
	BatteryPercent:    87,
	BatteryMillivolts: 5830,
	Door:              DoorClosedLocked,
	ListVersion:       12,
	ListDigest:        digest("0102030405060708"),
	RSSI:              -61,
	Clock:             1767225600, // 2026-01-01T00:00:00Z
	ClockSet:          true,
	PendingEvents:     3,
}

const testStatusHex = `
	01 04 02                 # firmware 1.4.2
	57                       # battery 87 %
	16 c6                    # battery 5830 mV
	01                       # door closed_locked
	00 00 00 0c              # list version 12
	01 02 03 04 05 06 07 08  # list digest
	c3                       # RSSI -61 dBm
	69 55 b9 00              # lock clock 1767225600 (2026-01-01T00:00:00Z)
	01                       # flags: clock_set
	00 03                    # 3 events pending`

var bodyTests = []struct {
	name string
	msg  Message
	body string
}{
	{"hello", &Hello{Status: testStatus, Reason: BootPowerOn, RxFloor: 511, ListCapacity: 1000},
		testStatusHex + `
		01                       # boot reason power_on
		00 00 01 ff              # rx floor 511
		03 e8                    # list capacity 1000`},
	{"heartbeat", &Heartbeat{Status: testStatus}, testStatusHex},
	{"access request keycard", &AccessRequest{Kind: CredKeycard, CardID: hx("04a1b2c3d4e5f6")}, `
		01                       # kind keycard
		07                       # card id length 7
		04 a1 b2 c3 d4 e5 f6     # card id`},
	{"access request doorcode", &AccessRequest{Kind: CredDoorcode, Code: "4711093"}, `
		02                       # kind doorcode
		07                       # 7 digits
		34 37 31 31 30 39 33     # "4711093"`},
	{"access request mobile", &AccessRequest{Kind: CredMobile,
		PublicKey: [32]byte(bytes.Repeat([]byte{0xaa}, 32)),
		Nonce:     [16]byte(bytes.Repeat([]byte{0x11}, 16)),
		Signature: [64]byte(bytes.Repeat([]byte{0x5e}, 64))}, `
		03                       # kind mobile
		` + strings.Repeat("aa ", 32) + ` # public key
		` + strings.Repeat("11 ", 16) + ` # nonce
		` + strings.Repeat("5e ", 64) + ` # signature`},
	{"door event", &DoorEvent{Seq: 77, Clock: 1767225600, Event: EventHeldOpen, Detail: 95}, `
		00 00 00 4d              # event seq 77
		69 55 b9 00              # lock clock
		02                       # held_open
		00 5f                    # 95 s open`},
	{"offline events", &OfflineEvents{Records: []OfflineDecision{
		{Seq: 78, Clock: 1767225660, Kind: CredKeycard, Reason: ReasonAllowedByGrant, Entry: 42},
		{Seq: 79, Clock: 1767225720, Kind: CredDoorcode, Reason: ReasonUnknownCredential}}}, `
		02                       # 2 records
		00 00 00 4e 69 55 b9 3c  # seq 78, lock clock +60 s
		01 01 00 00 00 2a        # keycard, allowed_by_grant, entry 42
		00 00 00 4f 69 55 b9 78  # seq 79, lock clock +120 s
		02 11 00 00 00 00        # doorcode, unknown_credential, no entry`},
	{"list ack", &ListAck{Version: 13, Chunk: 2, Status: ListChunkStored, Digest: digest("0102030405060708")}, `
		00 00 00 0d              # list version 13
		00 02                    # chunk 2
		01                       # chunk_stored
		01 02 03 04 05 06 07 08  # digest of the active list (still version 12)`},
	{"command result", &CommandResult{Request: 900, Status: CommandJammed}, `
		00 00 03 84              # answers hub message 900
		02                       # jammed`},
	{"counter floor from lock", &CounterFloor{From: LockToHub, Floor: 1023}, `
		00 00 03 ff              # drops hub counters <= 1023`},
	{"status ack", &StatusAck{Request: 513, Clock: 1767225601, ClockTrusted: true, More: true, ListVersion: 13}, `
		00 00 02 01              # answers lock message 513
		69 55 b9 01              # hub clock
		03                       # flags: clock_trusted, more
		00 00 00 0d              # wanted list version 13`},
	{"decision allow", &Decision{Request: 514, Reason: ReasonAllowedByGrant, UnlockSeconds: 5}, `
		00 00 02 02              # answers access request 514
		01                       # allowed_by_grant
		00 05                    # unlock 5 s`},
	{"decision deny", &Decision{Request: 515, Reason: ReasonExpired}, `
		00 00 02 03              # answers access request 515
		1b                       # expired
		00 00                    # no unlock`},
	{"remote unlock", &RemoteUnlock{UnlockSeconds: 10}, `
		00 0a                    # unlock 10 s`},
	{"time sync", &TimeSync{Clock: 1767225601, Trusted: true}, `
		69 55 b9 01              # hub clock
		01                       # trusted`},
	{"list chunk", &ListChunk{Version: 13, Index: 0, Count: 3, Digest: digest("a1a2a3a4a5a6a7a8"), Data: []byte("entries")}, `
		00 00 00 0d              # list version 13
		00 00                    # chunk 0
		00 03                    # of 3
		a1 a2 a3 a4 a5 a6 a7 a8  # digest of the whole list
		65 6e 74 72 69 65 73     # data`},
	{"list clear", &ListChunk{Version: 14}, `
		00 00 00 0e              # list version 14
		00 00                    # chunk 0
		00 00                    # of 0: clear the list
		00 00 00 00 00 00 00 00  # no digest: an empty list`},
	{"event ack", &EventAck{Through: 79}, `
		00 00 00 4f              # events up to seq 79 stored`},
	{"counter floor from hub", &CounterFloor{From: HubToLock, Floor: 575}, `
		00 00 02 3f              # drops lock counters <= 575`},
	{"door assign", &DoorAssign{Door: "main-entrance"}, `
		0d                       # length 13
		6d 61 69 6e 2d 65 6e 74 72 61 6e 63 65  # "main-entrance"`},
}

func TestBodies(t *testing.T) {
	seen := map[Type]bool{}
	for _, tc := range bodyTests {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.body)
			got, err := AppendBody([]byte{0xee}, tc.msg)
			if err != nil || !bytes.Equal(got[1:], want) {
				t.Fatalf("AppendBody = % x, %v\nwant % x", got[1:], err, want)
			}
			m, err := ParseBody(tc.msg.Type(), want)
			if err != nil || !reflect.DeepEqual(m, tc.msg) {
				t.Fatalf("ParseBody = %+v, %v\nwant %+v", m, err, tc.msg)
			}
			if len(want) > MaxBody {
				t.Fatalf("body of %d bytes > MaxBody", len(want))
			}
			seen[tc.msg.Type()] = true
		})
	}
	for typ := range typeNames {
		if !seen[typ] {
			t.Errorf("no body example for %s", typ)
		}
	}
}

var malformedBodies = []struct {
	name string
	typ  Type
	body string
	why  string // in the error
}{
	{"unknown type", 0x08, ``, "unknown type(0x08)"},
	{"reserved bit", 0x81, testStatusHex, "unknown type(0x81)"},
	{"empty hello", TypeHello, ``, "truncated"},
	{"truncated heartbeat", TypeHeartbeat, `01 04 02 57 16`, "truncated"},
	{"trailing byte", TypeHeartbeat, testStatusHex + "\n00", "1 trailing bytes"},
	{"battery over 100 %", TypeHeartbeat, `01 04 02 65 16 c6 01 00 00 00 0c 0102030405060708 c3 6955b900 01 0003`, "battery 101%"},
	{"unknown door state", TypeHeartbeat, `01 04 02 57 16 c6 04 00 00 00 0c 0102030405060708 c3 6955b900 01 0003`, "unknown door_state(4)"},
	{"unknown status flag", TypeHeartbeat, `01 04 02 57 16 c6 01 00 00 00 0c 0102030405060708 c3 6955b900 03 0003`, "unknown status flags"},
	{"hello with boot reason 0", TypeHello, testStatusHex + "\n00 000001ff 03e8", "unknown boot(0)"},
	{"unknown credential kind", TypeAccessRequest, `04 04 01020304`, "unknown credential(4)"},
	{"keycard too short", TypeAccessRequest, `01 03 a1 b2 c3`, "length 3 not in 4..32"},
	{"keycard too long", TypeAccessRequest, `01 21` + strings.Repeat(" 5a", 33), "length 33 not in 4..32"},
	{"keycard length past the end", TypeAccessRequest, `01 07 a1 b2 c3 d4`, "truncated"},
	{"doorcode too short", TypeAccessRequest, `02 04 31 32 33 34`, "length 4 not in 5..7"},
	{"doorcode too long", TypeAccessRequest, `02 08 31 32 33 34 35 36 37 38`, "length 8 not in 5..7"},
	{"doorcode with a non-digit", TypeAccessRequest, `02 05 31 32 33 34 41`, "non-digit"},
	{"mobile truncated signature", TypeAccessRequest, `03` + strings.Repeat(" aa", 32+16+63), "truncated"},
	{"door event seq 0", TypeDoorEvent, `00000000 6955b900 02 005f`, "event seq 0"},
	{"unknown door event", TypeDoorEvent, `0000004d 6955b900 06 0000`, "unknown door_event(6)"},
	{"no offline records", TypeOfflineEvents, `00`, "0 records"},
	{"too many offline records", TypeOfflineEvents, `10` + strings.Repeat(" 0000004e 6955b93c 01 01 0000002a", 16), "16 records"},
	{"offline record count past the end", TypeOfflineEvents, `02 0000004e 6955b93c 01 01 0000002a`, "truncated"},
	{"offline record with unknown reason", TypeOfflineEvents, `01 0000004e 6955b93c 01 20 0000002a`, "unknown reason(0x20)"},
	{"list ack unknown status", TypeListAck, `0000000d 0002 07 0102030405060708`, "unknown list_status(7)"},
	{"command result status 0", TypeCommandResult, `00000384 00`, "unknown command_status(0)"},
	{"decision unknown reason", TypeDecision, `00000202 04 0005`, "unknown reason(0x04)"},
	{"decision reason 0", TypeDecision, `00000202 00 0000`, "unknown reason(0x00)"},
	{"allow without unlock", TypeDecision, `00000202 01 0000`, "allow with unlock of 0 s"},
	{"deny with unlock", TypeDecision, `00000203 1b 0005`, "deny with unlock of 5 s"},
	{"unlock over an hour", TypeRemoteUnlock, `0e11`, "unlock of 3601 s"},
	{"time sync at 0", TypeTimeSync, `00000000 01`, "clock 0"},
	{"door assign empty", TypeDoorAssign, `00`, "length 0 not in 1..64"},
	{"door assign with a space", TypeDoorAssign, `03 61 20 62`, "door id holds a character"},
	{"list chunk without data", TypeListChunk, `0000000d 0000 0003 a1a2a3a4a5a6a7a8`, "chunk data of 0 bytes"},
	{"list chunk index past count", TypeListChunk, `0000000d 0003 0003 a1a2a3a4a5a6a7a8 65`, "chunk 3 of 3"},
	{"list chunk data too long", TypeListChunk, `0000000d 0000 0003 a1a2a3a4a5a6a7a8` + strings.Repeat(" 65", MaxChunkData+1), "chunk data of 209 bytes"},
	{"list clear with data", TypeListChunk, `0000000e 0000 0000 0000000000000000 65`, "list clear with chunk 0, 1 bytes"},
	{"list clear with a digest", TypeListChunk, `0000000e 0000 0000 a1a2a3a4a5a6a7a8`, "list clear with chunk 0, 0 bytes of data or a digest"},
	{"list clear of chunk 1", TypeListChunk, `0000000e 0001 0000 0000000000000000`, "list clear with chunk 1"},
	{"list version 0", TypeListChunk, `00000000 0000 0001 a1a2a3a4a5a6a7a8 65`, "list version 0"},
	{"status ack unknown flag", TypeStatusAck, `00000201 6955b901 04 0000000d`, "unknown flags 0x04"},
	{"counter floor truncated", TypeHubFloor, `00 02 3f`, "truncated"},
}

func TestMalformedBodies(t *testing.T) {
	for _, tc := range malformedBodies {
		m, err := ParseBody(tc.typ, hx(tc.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: ParseBody = %+v, %v; want ErrMalformed: %s", tc.name, m, err, tc.why)
		}
	}
}

func TestAppendBodyRefusesInvalid(t *testing.T) {
	for _, m := range []Message{
		&AccessRequest{Kind: CredKeycard, CardID: []byte{1, 2, 3}},
		&AccessRequest{Kind: CredDoorcode, Code: "12a45"},
		&AccessRequest{Kind: CredKeycard, CardID: []byte{1, 2, 3, 4}, Code: "12345"},
		&Decision{Request: 1, Reason: ReasonAllowedTour},
		&Decision{Request: 1, Reason: 0x42},
		&OfflineEvents{},
		&ListChunk{Version: 1, Count: 1, Data: make([]byte, MaxChunkData+1)},
		&Heartbeat{Status{BatteryPercent: 101}},
	} {
		if b, err := AppendBody(nil, m); !errors.Is(err, ErrInvalid) || len(b) != 0 {
			t.Errorf("AppendBody(%+v) = % x, %v; want ErrInvalid", m, b, err)
		}
	}
}

// TestLargestBodies checks that the largest body of each type fits MaxBody.
func TestLargestBodies(t *testing.T) {
	recs := make([]OfflineDecision, MaxOfflineRecords)
	for i := range recs {
		recs[i] = OfflineDecision{Seq: uint32(i + 1), Kind: CredMobile, Reason: ReasonExpired}
	}
	for _, m := range []Message{
		&AccessRequest{Kind: CredMobile},
		&AccessRequest{Kind: CredKeycard, CardID: make([]byte, MaxCardID)},
		&OfflineEvents{Records: recs},
		&ListChunk{Version: 1, Count: 1, Data: make([]byte, MaxChunkData)},
		&Hello{Reason: BootReset},
	} {
		b, err := AppendBody(nil, m)
		if err != nil || len(b) > MaxBody {
			t.Errorf("%s: %d bytes, %v", m.Type(), len(b), err)
		}
	}
}

func TestTypeDirections(t *testing.T) {
	for typ := range typeNames {
		m := newMessage(typ)
		if m.Type() != typ {
			t.Errorf("newMessage(%s).Type() = %s", typ, m.Type())
		}
		if typ&0x80 != 0 {
			t.Errorf("%s uses the reserved bit", typ)
		}
	}
	if TypeDecision.Direction() != HubToLock || TypeAccessRequest.Direction() != LockToHub {
		t.Error("direction bit")
	}
}
