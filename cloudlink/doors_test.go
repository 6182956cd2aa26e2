package cloudlink_test

import (
	"errors"
	"testing"

	"github.com/doorhub/doorhub/cloudlink"
)

// TestDoorsReportChecks: a door-state report with a band, list state or
// lock id outside the protocol is refused by the cloud (ErrSchema); a
// valid one decodes as sent.
func TestDoorsReportChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    cloudlink.DoorState
		ok   bool
	}{
		{"valid", cloudlink.DoorState{Door: "front", Lock: "0a1b2c3d", Reachable: true, BatteryPercent: ptr(9),
			BatteryBand: cloudlink.BatteryCritical, List: cloudlink.ListDrift}, true},
		{"nothing known", cloudlink.DoorState{Door: "front"}, true},
		{"unknown band", cloudlink.DoorState{Door: "front", BatteryBand: "empty"}, false},
		{"unknown list state", cloudlink.DoorState{Door: "front", List: "synced"}, false},
		{"lock id upper case", cloudlink.DoorState{Door: "front", Lock: "0A1B2C3D"}, false},
		{"lock id short", cloudlink.DoorState{Door: "front", Lock: "0a1b"}, false},
		{"battery above 100", cloudlink.DoorState{Door: "front", BatteryPercent: ptr(101)}, false},
		{"no door", cloudlink.DoorState{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (&cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: 1, SentAt: t0,
				Body: &cloudlink.DoorsReport{At: t0, Doors: []cloudlink.DoorState{tc.d}}}).Encode()
			if err == nil {
				_, err = cloudlink.DecodeUplink(out.Topic, out.Payload)
			}
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, cloudlink.ErrSchema) {
				t.Fatalf("got %v, want ErrSchema", err)
			}
		})
	}
}

func TestBatteryBandOf(t *testing.T) {
	for p, want := range map[int]cloudlink.BatteryBand{-1: "", 0: cloudlink.BatteryCritical, 9: cloudlink.BatteryCritical,
		10: cloudlink.BatteryLow, 24: cloudlink.BatteryLow, 25: cloudlink.BatteryOK, 100: cloudlink.BatteryOK} {
		if got := cloudlink.BatteryBandOf(p); got != want {
			t.Errorf("%d%%: %q, want %q", p, got, want)
		}
	}
}
