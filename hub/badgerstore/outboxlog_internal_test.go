package badgerstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestNumberedIsMarshal: the JSON the writer numbers is what
// json.Marshal makes of the record with its seq.
func TestNumberedIsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	for _, a := range []hub.Activity{
		hub.DoorActivity("front", hub.ActivityLowBattery, hub.Now{Time: at, Trusted: true}, 7),
		hub.AccessActivity(hub.Decision{Door: "apt-3b", At: at, Kind: hub.CredMobile, Allowed: true, PersonID: "p-1", Visibility: hub.Visible}),
		{Kind: hub.ActivityOverflow, At: at, Lost: &hub.Lost{Count: 3, From: at, To: at}},
		{Seq: 99, Kind: hub.ActivityRemoteUnlock, Door: "front", At: at, Command: "c-1", By: "m-1"},
	} {
		for _, seq := range []uint64{1, 42, 1 << 40} {
			got := numbered(encodeUnnumbered(&a), seq)
			a.Seq = seq
			want, _ := json.Marshal(&a)
			if string(got) != string(want) {
				t.Fatalf("numbered %s\nwant     %s", got, want)
			}
		}
	}
}
