package lockmsg_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// TestReasonsMatchAccessRules keeps the one-byte codes in step with the
// "Reasons" table of docs/access-rules.md and with hub.Reason: every reason
// has a code, every code a reason, and both agree on allowing.
func TestReasonsMatchAccessRules(t *testing.T) {
	doc, err := os.ReadFile("../../docs/access-rules.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)\n## Reasons\n(.*?)(\n## |$)`).FindSubmatch(doc)
	if section == nil {
		t.Fatal("no Reasons section in docs/access-rules.md")
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (yes|no) \\|").FindAllSubmatch(section[1], -1)
	var names []string
	for _, row := range rows {
		name, allowed := string(row[1]), string(row[2]) == "yes"
		names = append(names, name)
		code, ok := lockmsg.ReasonOf(name)
		switch {
		case !ok:
			t.Errorf("reason %s has no code", name)
		case code.String() != name:
			t.Errorf("code 0x%02x is named %s, not %s", uint8(code), code, name)
		case code.Allowed() != allowed || hub.Reason(name).Allowed() != allowed:
			t.Errorf("%s: doc allowed=%v, code %v, hub %v", name, allowed, code.Allowed(), hub.Reason(name).Allowed())
		}
	}
	for _, code := range lockmsg.Reasons() {
		if !slices.Contains(names, code.String()) {
			t.Errorf("code 0x%02x (%s) is not in docs/access-rules.md", uint8(code), code)
		}
	}
	if len(names) < 17 {
		t.Errorf("found only %d reasons in the doc table", len(names))
	}
}
