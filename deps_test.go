// Package doorhub_test holds the project-wide checks: the import rules of
// ../shared/design/STYLE.md, enforced by listing every package's imports.
package doorhub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/doorhub/doorhub"

type goPackage struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(out)
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func isStd(path string) bool {
	first := strings.SplitN(path, "/", 2)[0]
	return !strings.Contains(first, ".")
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// onlyIn lists third-party imports that only the named packages may use.
var onlyIn = map[string][]string{
	"github.com/dgraph-io/badger/v4": {module + "/hub/badgerstore"},
	// Badger's buffer pool (hub/badgerstore/buffers.go).
	"github.com/dgraph-io/ristretto/v2":   {module + "/hub/badgerstore"},
	"go.bug.st/serial":                    {module + "/radio/serialport"},
	"github.com/eclipse/paho.mqtt.golang": {module + "/cloudlink"},
	"github.com/coreos/go-systemd/v22":    {module + "/cmd/doorhubd"},
	"github.com/prometheus/client_golang": {module + "/hub/status", module + "/cmd"},
	"github.com/mochi-mqtt/server/v2":     {module + "/cloudlink", module + "/cmd"},
	"github.com/spf13/cobra":              {module + "/cmd"},
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if v := importViolation(p.ImportPath, imp); v != "" {
				t.Error(v)
			}
		}
	}
}

// importViolation says which rule pkg importing imp breaks, or "".
func importViolation(pkg, imp string) string {
	own := strings.HasPrefix(imp, module+"/")
	switch {
	case pkg == module+"/hub" && !isStd(imp):
		return fmt.Sprintf("%s imports %s: the domain package uses the standard library only", pkg, imp)
	case under(pkg, module+"/hub") && own && !under(imp, module+"/hub"):
		return fmt.Sprintf("%s imports %s: hub and its adapters import no radio, cloudlink or cmd package", pkg, imp)
	case under(pkg, module+"/radio") && under(imp, module+"/cloudlink"),
		under(pkg, module+"/cloudlink") && under(imp, module+"/radio"):
		return fmt.Sprintf("%s imports %s: radio and cloudlink never import each other", pkg, imp)
	case under(pkg, module+"/radio/frame") && own:
		return fmt.Sprintf("%s imports %s: the frame codec imports nothing of the project", pkg, imp)
	case !under(pkg, module+"/cmd") && under(imp, module+"/cmd"):
		return fmt.Sprintf("%s imports %s: nothing imports a main package", pkg, imp)
	}
	for dep, allowed := range onlyIn {
		if !under(imp, dep) {
			continue
		}
		ok := false
		for _, a := range allowed {
			if under(pkg, a) {
				ok = true
			}
		}
		if !ok {
			return fmt.Sprintf("%s imports %s: only %v may", pkg, imp, allowed)
		}
	}
	return ""
}

// TestImportRulesCatchViolations proves the checker fails on a bad import.
func TestImportRulesCatchViolations(t *testing.T) {
	cases := [][2]string{
		{module + "/hub", "github.com/dgraph-io/badger/v4"},
		{module + "/hub", module + "/radio/frame"},
		{module + "/radio/link", module + "/cloudlink"},
		{module + "/cloudlink", "go.bug.st/serial"},
		{module + "/radio/frame", module + "/hub"},
		{module + "/hub/badgerstore", module + "/cmd/doorhubd"},
	}
	for _, c := range cases {
		if importViolation(c[0], c[1]) == "" {
			t.Errorf("importViolation(%s, %s) found nothing", c[0], c[1])
		}
	}
}
