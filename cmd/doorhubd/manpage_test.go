package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestManPageNamesEveryFlag keeps the hand-written doorhubd(8) that the
// package ships in step with the flags: each flag -help lists must appear
// in the page's OPTIONS.
func TestManPageNamesEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../packaging/man/doorhubd.8")
	if err != nil {
		t.Fatal(err)
	}
	var usage bytes.Buffer
	m := NewMain(&usage, &usage, nil)
	if err := m.ParseFlags([]string{"-help"}); err != errHelp {
		t.Fatalf("ParseFlags(-help) = %v", err)
	}
	flags := regexp.MustCompile(`(?m)^\s+-([a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(flags) < 3 {
		t.Fatalf("found %d flags in the usage:\n%s", len(flags), usage.String())
	}
	options := string(page)
	if i := strings.Index(options, ".SH OPTIONS"); i >= 0 {
		options = options[i:]
	}
	for _, f := range flags {
		roff := `\-\-` + strings.ReplaceAll(f[1], "-", `\-`)
		if !strings.Contains(options, roff) {
			t.Errorf("doorhubd(8) OPTIONS does not document --%s (as %s)", f[1], roff)
		}
	}
}
