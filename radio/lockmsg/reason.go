package lockmsg

import "fmt"

// Reason is the one-byte code of a decision reason. The names are exactly
// the reasons of docs/access-rules.md ("Reasons"); a test keeps the two
// lists equal. Codes below 0x10 allow, codes from 0x10 deny; 0x00 and
// unassigned codes are malformed (a lock never guesses what a new code
// means: adding one is a protocol version change).
type Reason uint8

// Reasons for allowing.
const (
	ReasonAllowedByGrant Reason = 0x01
	ReasonAllowedAsGuest Reason = 0x02
	ReasonAllowedTour    Reason = 0x03
)

// Reasons for denying.
const (
	ReasonUnknownDoor         Reason = 0x10
	ReasonUnknownCredential   Reason = 0x11
	ReasonCredentialInactive  Reason = 0x12
	ReasonSignatureInvalid    Reason = 0x13
	ReasonAmbiguousCode       Reason = 0x14
	ReasonNoKeyForDoor        Reason = 0x15
	ReasonMethodNotAllowed    Reason = 0x16
	ReasonDoorcodesNotAllowed Reason = 0x17
	ReasonTourNotAllowlisted  Reason = 0x18
	ReasonHostRevoked         Reason = 0x19
	ReasonNotStarted          Reason = 0x1A
	ReasonExpired             Reason = 0x1B
	ReasonClockUntrusted      Reason = 0x1C
	ReasonKeypadLockedOut     Reason = 0x1D
)

var reasonNames = map[Reason]string{
	ReasonAllowedByGrant:      "allowed_by_grant",
	ReasonAllowedAsGuest:      "allowed_as_guest",
	ReasonAllowedTour:         "allowed_tour",
	ReasonUnknownDoor:         "unknown_door",
	ReasonUnknownCredential:   "unknown_credential",
	ReasonCredentialInactive:  "credential_inactive",
	ReasonSignatureInvalid:    "signature_invalid",
	ReasonAmbiguousCode:       "ambiguous_code",
	ReasonNoKeyForDoor:        "no_key_for_door",
	ReasonMethodNotAllowed:    "method_not_allowed",
	ReasonDoorcodesNotAllowed: "doorcodes_not_allowed",
	ReasonTourNotAllowlisted:  "tour_not_allowlisted",
	ReasonHostRevoked:         "host_revoked",
	ReasonNotStarted:          "not_started",
	ReasonExpired:             "expired",
	ReasonClockUntrusted:      "clock_untrusted",
	ReasonKeypadLockedOut:     "keypad_locked_out",
}

var reasonCodes = func() map[string]Reason {
	m := make(map[string]Reason, len(reasonNames))
	for r, n := range reasonNames {
		m[n] = r
	}
	return m
}()

// String returns the reason's name as docs/access-rules.md spells it.
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(0x%02x)", uint8(r))
}

// Allowed reports whether the reason allows.
func (r Reason) Allowed() bool { return r.Valid() && r < 0x10 }

// Valid reports whether r is an assigned code.
func (r Reason) Valid() bool { _, ok := reasonNames[r]; return ok }

// ReasonOf returns the code of a reason name (hub.Reason's string).
func ReasonOf(name string) (Reason, bool) {
	r, ok := reasonCodes[name]
	return r, ok
}

// Reasons returns every assigned code in ascending order.
func Reasons() []Reason {
	var out []Reason
	for r := 0; r < 256; r++ {
		if Reason(r).Valid() {
			out = append(out, Reason(r))
		}
	}
	return out
}
