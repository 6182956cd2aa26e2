package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/doorhub/doorhub/hub"
)

var manDir = flag.String("man-dir", "", "write the man pages into this directory (make deb)")

// TestManPages generates doorhub's man pages from the command tree, one
// per command, as `make deb` does:
//
//	go test -run '^TestManPages$' ./cmd/doorhub -args -man-dir DIR
//
// Without -man-dir it writes them to a temp dir and checks that every
// command has its page. The date comes from SOURCE_DATE_EPOCH, so the
// same commit gives the same pages.
func TestManPages(t *testing.T) {
	dir := *manDir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date = time.Unix(s, 0).UTC()
	}
	root := newRoot(io.Discard, io.Discard, nil)
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "DOORHUB", Section: "1", Date: &date,
		Source: "doorhub " + hub.Version, Manual: "doorhub manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		t.Fatal(err)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no man page for %q: %v", c.CommandPath(), err)
		} else if !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s has no NAME section", name)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
