package console

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/doorhub/doorhub/hub"
)

// ImportColumns are the columns of an import file, in the template's
// order. keys holds key names separated by ';'. Empty cells take the
// import's defaults.
var ImportColumns = []string{"email", "name", "method", "keys", "resident", "may_share", "start", "expires"}

// ImportTemplate is the CSV template: the header line. A row reads, for
// example:
//
//	jane.doe@example.com,Jane Doe,app,Front door;Apt 4B,true,false,2026-12-01T00:00:00Z,2027-11-30T00:00:00Z
func ImportTemplate() string {
	return strings.Join(ImportColumns, ",") + "\n"
}

// Import invites people from a CSV file.
type Import struct {
	CSV    string `json:"csv"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Defaults for empty cells.
	Method   string   `json:"method,omitempty"`
	Keys     []string `json:"keys,omitempty"`
	Resident *bool    `json:"resident,omitempty"`
	MayShare *bool    `json:"may_share,omitempty"`
	Start    string   `json:"start,omitempty"`
	Expires  string   `json:"expires,omitempty"`
}

// ImportRow is what the import does with one line.
type ImportRow struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	Action string `json:"action"` // invite, update, unchanged
}

// ImportResult is the outcome of an import.
type ImportResult struct {
	Result
	DryRun bool        `json:"dry_run"`
	Rows   []ImportRow `json:"rows"`
}

// LineErrors lists every bad line of an import; nothing was applied.
type LineErrors struct {
	Lines []LineError `json:"lines"`
}

// LineError is one bad line.
type LineError struct {
	Line int    `json:"line"`
	Err  string `json:"error"`
}

func (e *LineErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad line(s), nothing imported:", len(e.Lines))
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "\n  line %d: %s", l.Line, l.Err)
	}
	return b.String()
}

// Unwrap makes a LineErrors an ErrInvalid.
func (e *LineErrors) Unwrap() error { return ErrInvalid }

func parseBool(field, s string, def *bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def != nil && *def, nil
	case "true", "yes", "y", "1":
		return true, nil
	case "false", "no", "n", "0":
		return false, nil
	}
	return false, invalidf("%s %q: must be true or false", field, s)
}

// Import checks every line first and then applies them all as one batch,
// or nothing. Importing the same file again applies only what is not so
// already.
func (c *Console) Import(r Import) (ImportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cr := csv.NewReader(strings.NewReader(r.CSV))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return ImportResult{}, invalidf("the file is empty; the first line must be: %s", strings.Join(ImportColumns, ","))
	}
	if err != nil {
		return ImportResult{}, invalidf("line 1: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, h := range []string{"email", "keys"} {
		if _, ok := col[h]; !ok && (h == "email" || len(r.Keys) == 0) {
			return ImportResult{}, invalidf("line 1: column %q is missing; the columns are %s", h, strings.Join(ImportColumns, ","))
		}
	}
	for h := range col {
		known := false
		for _, k := range ImportColumns {
			known = known || h == k
		}
		if !known {
			return ImportResult{}, invalidf("line 1: unknown column %q; the columns are %s", h, strings.Join(ImportColumns, ","))
		}
	}
	type row struct {
		line int
		inv  Invite
	}
	var rows []row
	var bad LineErrors
	emails := map[string]int{}
	for {
		rec, err := cr.Read()
		var line int
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			bad.Lines = append(bad.Lines, LineError{line, err.Error()})
			continue
		}
		line, _ = cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			bad.Lines = append(bad.Lines, LineError{line, fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		cell := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		inv := Invite{Email: cell("email"), Name: cell("name"), Method: cell("method"), Start: cell("start"), Expires: cell("expires")}
		if inv.Method == "" {
			inv.Method = r.Method
		}
		if inv.Start == "" {
			inv.Start = r.Start
		}
		if inv.Expires == "" {
			inv.Expires = r.Expires
		}
		if ks := cell("keys"); ks != "" {
			for _, k := range strings.Split(ks, ";") {
				if k = strings.TrimSpace(k); k != "" {
					inv.Keys = append(inv.Keys, k)
				}
			}
		} else {
			inv.Keys = r.Keys
		}
		var rerr error
		if inv.Resident, rerr = parseBool("resident", cell("resident"), r.Resident); rerr == nil {
			inv.MayShare, rerr = parseBool("may_share", cell("may_share"), r.MayShare)
		}
		if rerr != nil {
			bad.Lines = append(bad.Lines, LineError{line, strings.TrimPrefix(rerr.Error(), ErrInvalid.Error()+": ")})
			continue
		}
		norm := hub.NormalizeEmail(inv.Email)
		if first, dup := emails[norm]; dup && norm != "" {
			bad.Lines = append(bad.Lines, LineError{line, fmt.Sprintf("email %q is already on line %d (emails are the same regardless of case)", inv.Email, first)})
			continue
		}
		emails[norm] = line
		rows = append(rows, row{line, inv})
	}
	var ops []hub.Op
	var out ImportResult
	out.DryRun = r.DryRun
	var changedRows []int
	var people []*hub.Person
	now := c.now()
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		for i, rw := range rows {
			rops, p, rerr := c.inviteOps(cat, rw.inv, now)
			if rerr != nil {
				bad.Lines = append(bad.Lines, LineError{rw.line, strings.TrimPrefix(rerr.Error(), ErrInvalid.Error()+": ")})
				continue
			}
			action := "unchanged"
			switch {
			case len(rops) > 0 && cat.PersonByEmail(rw.inv.Email) == nil:
				action = "invite"
			case len(rops) > 0:
				action = "update"
			}
			if len(rops) > 0 {
				changedRows = append(changedRows, i)
				people = append(people, p)
			}
			ops = append(ops, rops...)
			out.Rows = append(out.Rows, ImportRow{Line: rw.line, Email: hub.NormalizeEmail(rw.inv.Email), Action: action})
		}
	})
	if err != nil {
		return ImportResult{}, err
	}
	if len(bad.Lines) > 0 {
		return ImportResult{}, &bad
	}
	if r.DryRun {
		out.Result = c.result(nil, fmt.Sprintf("dry run: %d row(s) would change, nothing applied", len(changedRows)))
		return out, nil
	}
	b, err := c.commit(ops)
	if err != nil {
		return ImportResult{}, err
	}
	for i, ri := range changedRows {
		c.welcome(people[i], rows[ri].inv)
	}
	out.Result = c.result(b, fmt.Sprintf("%d row(s) applied, %d already so", len(changedRows), len(rows)-len(changedRows)))
	return out, nil
}
