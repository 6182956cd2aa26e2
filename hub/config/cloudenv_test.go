package config_test

import (
	"testing"

	"github.com/doorhub/doorhub/hub/config"
)

// TestCloudStateVariableIsNotASetting: a shell that runs doorhub-cloud
// (DOORHUB_CLOUD_STATE, CONTRACTS.md) can run doorhubd too; an unknown
// DOORHUB_ variable is still refused.
func TestCloudStateVariableIsNotASetting(t *testing.T) {
	p := write(t, t.TempDir(), "doorhub.yaml", "hub_id: hub-1\n")
	if _, err := config.Load(p, []string{"DOORHUB_CLOUD_STATE=/var/lib/doorhub-cloud"}); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(p, []string{"DOORHUB_CLOUD_STAT=/x"}); err == nil {
		t.Fatal("an unknown DOORHUB_ variable was accepted")
	}
}
