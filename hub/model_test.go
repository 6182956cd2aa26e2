package hub_test

// TestModelDecisions is a model-based property test of Engine.Decide: random
// sequences of what a property manager does (the help article in
// /work/shared/seed), of clock moves and of presentations at locks are
// played against a MemStore and an Engine, and against the naive reference
// of model_ref_test.go. Every decision must agree with the reference;
// every batch the reference predicts to be rejected must be rejected with
// nothing changed.
//
// `make test` runs modelDefaultChecks sequences; `make fuzz` many more
// (-rapid.checks). A failure prints the whole sequence; rapid shrinks it.

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the sites' time zones, whatever the machine has

	"github.com/doorhub/doorhub/hub"
	"pgregory.net/rapid"
)

const (
	modelDefaultChecks = "300"
	modelDefaultSteps  = "100"
	modelSiteID        = "site-1"
)

// Small alphabets so that ids collide and edge cases are frequent.
var (
	modelDoorIDs   = []string{"d1", "d2", "d3", "d4"}
	modelKeyIDs    = []string{"k1", "k2", "k3", "k4"}
	modelPersonIDs = []string{"p1", "p2", "p3", "p4", "p5"}
	modelGrantIDs  = []string{"g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"}
	modelGuestIDs  = []string{"gg1", "gg2", "gg3", "gg4"}
	modelCodeIDs   = []string{"gc1", "gc2", "gc3", "gc4"}
	modelTourIDs   = []string{"t1", "t2", "t3"}
	modelDevIDs    = []string{"ph1", "ph2", "ph3", "ph4"}
	modelCardIDs   = []string{"c0ffee01", "c0ffee02", "c0ffee03", "c0ffee04"}
	modelIntegs    = []string{"tour24", "acme"}
	modelServices  = []string{"dog walker", "cleaner"}
	modelEmails    = []string{"ann@example.com", "bob@example.com", "cho@example.org",
		"dev@example.net", "eli@example.com", "fox@example.com", "gil@example.com"}
	modelDoorTypes = []hub.DoorType{hub.DoorEntrance, hub.DoorResidence, hub.DoorService, hub.DoorCommunal}
	modelZones     = []string{"UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"}
	// Start instants: the eves of DST changes in New York and Auckland,
	// and an ordinary day.
	modelBases = []time.Time{
		time.Date(2025, 3, 8, 15, 0, 0, 0, time.UTC),
		time.Date(2025, 4, 5, 11, 0, 0, 0, time.UTC),
		time.Date(2025, 11, 1, 20, 0, 0, 0, time.UTC),
		time.Date(2025, 6, 30, 22, 30, 0, 0, time.UTC),
	}
	modelSmallSteps = []time.Duration{time.Nanosecond, time.Second, 10 * time.Second,
		59 * time.Second, time.Minute, time.Minute + time.Nanosecond, 5 * time.Minute,
		15*time.Minute - time.Nanosecond, 15 * time.Minute, time.Hour, 6 * time.Hour}
	modelBigSteps = []time.Duration{23 * time.Hour, 24 * time.Hour, 25 * time.Hour,
		72 * time.Hour, 10 * 24 * time.Hour, 40 * 24 * time.Hour}
	modelOffsets = []time.Duration{-72 * time.Hour, -25 * time.Hour, -time.Hour,
		-15 * time.Minute, -time.Nanosecond, 0, 0, time.Nanosecond, time.Minute,
		15 * time.Minute, time.Hour, 23 * time.Hour, 24*time.Hour - time.Nanosecond,
		24 * time.Hour, 24*time.Hour + time.Nanosecond, 25 * time.Hour, 72 * time.Hour,
		40 * 24 * time.Hour}
	modelPositive = []time.Duration{time.Nanosecond, 15 * time.Minute, time.Hour,
		24 * time.Hour, 48 * time.Hour, 30 * 24 * time.Hour}
)

// modelPhones are fixed Ed25519 keys; the last is never registered.
var modelPhones = func() []ed25519.PrivateKey {
	var out []ed25519.PrivateKey
	for i := 0; i < 6; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprintf("model-phone-%d", i)))
		out = append(out, ed25519.NewKeyFromSeed(seed[:]))
	}
	return out
}()

func modelPhoneIndex(pub []byte) int {
	for i, k := range modelPhones {
		if string(k.Public().(ed25519.PublicKey)) == string(pub) {
			return i
		}
	}
	return -1
}

func TestModelDecisions(t *testing.T) {
	modelDefaultFlag(t, "rapid.checks", modelDefaultChecks)
	modelDefaultFlag(t, "rapid.steps", modelDefaultSteps)
	stats := &modelStats{counts: map[string]int{}}
	rapid.Check(t, func(rt *rapid.T) { modelRunOne(rt, stats) })
	stats.report(t)
}

// modelUserFlags are the rapid settings the user chose (command line or
// RAPID_* environment), noted before this test changes any.
var (
	modelUserFlagsOnce sync.Once
	modelUserFlags     = map[string]bool{}
)

// modelDefaultFlag sets a rapid flag for this test unless the user set it,
// and restores it afterwards.
func modelDefaultFlag(t *testing.T, name, value string) {
	modelUserFlagsOnce.Do(func() {
		flag.Visit(func(f *flag.Flag) { modelUserFlags[f.Name] = true })
		for _, n := range []string{"checks", "steps"} {
			if os.Getenv("RAPID_"+strings.ToUpper(n)) != "" {
				modelUserFlags["rapid."+n] = true
			}
		}
	})
	f := flag.Lookup(name)
	if modelUserFlags[name] || f == nil {
		return
	}
	old := f.Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set(name, old) })
}

// modelStats counts what the sequences reached, to show the coverage.
type modelStats struct{ counts map[string]int }

func (s *modelStats) add(what string) { s.counts[what]++ }

func (s *modelStats) report(t *testing.T) {
	var names []string
	for k := range s.counts {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "\n  %-40s %d", k, s.counts[k])
	}
	t.Logf("model coverage:%s", b.String())
}

type modelRun struct {
	ref      *refModel
	store    *hub.MemStore
	eng      *hub.Engine
	lists    *hub.DoorLists // computes a door's list again only when a batch touched it
	opts     hub.EngineOptions
	now      time.Time
	trusted  bool
	version  uint64
	last     *hub.Batch
	log      []string
	stats    *modelStats
	people   []string // person id alphabet
	pair     []string // two people whose daily codes collide
	pairDoor string
	pairDate string
}

func (m *modelRun) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf("%3d. ", len(m.log)+1)+fmt.Sprintf(format, args...))
}

func (m *modelRun) fatalf(t *rapid.T, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s\n\nThe sequence:\n%s", fmt.Sprintf(format, args...), strings.Join(m.log, "\n"))
}

func modelRunOne(t *rapid.T, stats *modelStats) {
	m := &modelRun{stats: stats}
	m.setup(t)
	actions := map[string]func(*rapid.T){
		// The property manager.
		"invite":         m.actInvite,
		"invite_":        m.actInvite,
		"edit_access":    m.actEditGrant,
		"remove_key":     m.actRemoveGrant,
		"revoke_all":     m.actRevoke,
		"delete_person":  m.actDeletePerson,
		"share":          m.actShare,
		"share_":         m.actShare,
		"guest_code":     m.actGuestCode,
		"guest_code_":    m.actGuestCode,
		"keycard":        m.actKeycard,
		"keycard_":       m.actKeycard,
		"phone":          m.actPhone,
		"tour":           m.actTour,
		"allowlist":      m.actAllowlist,
		"edit_person":    m.actEditPerson,
		"edit_door":      m.actEditDoor,
		"edit_key":       m.actEditKey,
		"edit_site":      m.actEditSite,
		"collide":        m.actCollide,
		"guest_arrives":  m.actGuestArrives,
		"guest_arrives_": m.actGuestArrives,
		"tour_arrives":   m.actTourArrives,
		"bad_batch":      m.actBadBatch,
		// Time.
		"tick":     m.actTick,
		"jump":     m.actJump,
		"boundary": m.actBoundary,
		"trust":    m.actTrust,
		"restart":  m.actRestart,
		// Locks.
		"present_card":    m.actPresentCard,
		"present_card_":   m.actPresentCard,
		"present_phone":   m.actPresentPhone,
		"present_phone_":  m.actPresentPhone,
		"present_daily":   m.actPresentDaily,
		"present_daily_":  m.actPresentDaily,
		"present_daily__": m.actPresentDaily,
		"present_code":    m.actPresentCode,
		"present_code_":   m.actPresentCode,
		"wrong_codes":     m.actWrongCodes,
		// The radio asks for the lists now and then, batches apart.
		"door_lists": m.actDoorLists,
		"": func(t *rapid.T) {
			if v := m.store.Version(); v != m.version {
				m.fatalf(t, "store at version %d, the model at %d", v, m.version)
			}
		},
	}
	t.Repeat(actions)
}

// ---- setup ----

func (m *modelRun) setup(t *rapid.T) {
	tz := rapid.SampledFrom(modelZones).Draw(t, "tz")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("time zone %s: %v", tz, err)
	}
	m.now = rapid.SampledFrom(modelBases).Draw(t, "base").Add(
		time.Duration(rapid.IntRange(0, 120).Draw(t, "base_minutes")) * time.Minute)
	m.trusted = rapid.IntRange(0, 4).Draw(t, "trusted0") > 0
	length := rapid.SampledFrom([]int{5, 5, 6, 7}).Draw(t, "doorcode_length")
	secret := rapid.SliceOfN(rapid.Byte(), 16, 24).Draw(t, "secret")

	m.opts = hub.EngineOptions{
		UntrustedMargin: rapid.SampledFrom([]time.Duration{0, 0, 2 * time.Hour}).Draw(t, "margin"),
		Lockout: hub.LockoutOptions{
			Attempts: rapid.SampledFrom([]int{0, 0, 3}).Draw(t, "lockout_attempts"),
			Window:   rapid.SampledFrom([]time.Duration{0, 30 * time.Second}).Draw(t, "lockout_window"),
			Duration: rapid.SampledFrom([]time.Duration{0, 2 * time.Minute}).Draw(t, "lockout_duration"),
		},
	}
	m.ref = &refModel{st: &refState{}, margin: 24 * time.Hour, attempts: 5,
		window: time.Minute, duration: 5 * time.Minute, lockouts: map[string]*refLockout{}}
	if m.opts.UntrustedMargin != 0 {
		m.ref.margin = m.opts.UntrustedMargin
	}
	if m.opts.Lockout.Attempts != 0 {
		m.ref.attempts = m.opts.Lockout.Attempts
	}
	if m.opts.Lockout.Window != 0 {
		m.ref.window = m.opts.Lockout.Window
	}
	if m.opts.Lockout.Duration != 0 {
		m.ref.duration = m.opts.Lockout.Duration
	}
	m.store = hub.NewMemStore()
	m.eng = hub.NewEngine(m.store, m.opts)
	m.lists = hub.NewDoorLists(m.store, func() time.Time { return m.now })
	m.logf("start at %s (%s), trusted=%t, margin=%s, lockout %d in %s for %s", modelT(m.now), tz,
		m.trusted, m.ref.margin, m.ref.attempts, m.ref.window, m.ref.duration)

	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: modelSiteID, TimeZone: tz,
		DoorcodeLength: length, DoorcodeSecret: secret}}}
	nDoors := rapid.IntRange(2, 4).Draw(t, "doors")
	var doors []string
	for _, id := range modelDoorIDs[:nDoors] {
		typ := rapid.SampledFrom(modelDoorTypes).Draw(t, "door_type")
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: "door " + id, Type: typ}})
		doors = append(doors, id)
	}
	nKeys := rapid.IntRange(1, 4).Draw(t, "keys")
	for _, id := range modelKeyIDs[:nKeys] {
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: m.genKey(t, id, doors)})
	}
	if !m.submit(t, "site setup", ops) {
		m.fatalf(t, "the site setup was rejected")
	}

	// The people already living there, with their cards and phones.
	ops = nil
	n := rapid.IntRange(0, 4).Draw(t, "residents")
	for i := 0; i < n; i++ {
		pid := modelPersonIDs[i]
		ops = append(ops, modelPutPerson(pid, modelEmails[i], false, 0))
		for j := rapid.IntRange(1, 2).Draw(t, "resident_keys"); j > 0; j-- {
			g := m.genGrant(t, pid)
			g.ID = fmt.Sprintf("g%d", 2*i+j)
			ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: g})
		}
		if rapid.IntRange(0, 3).Draw(t, "resident_card") > 0 {
			ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: modelCardIDs[i], OwnerID: pid, Active: true}})
		}
		if rapid.IntRange(0, 3).Draw(t, "resident_phone") > 0 {
			ops = append(ops, hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: modelDevIDs[i], OwnerID: pid,
				PublicKey: modelPhones[i].Public().(ed25519.PublicKey)}})
		}
	}
	if len(ops) > 0 {
		m.submit(t, "the residents", ops)
	}

	// Two people whose daily codes collide at one door today, found by a
	// birthday search over person ids (about sqrt(2*10^length) tries).
	m.people = append([]string(nil), modelPersonIDs...)
	if length <= 6 {
		door := rapid.SampledFrom(doors).Draw(t, "pair_door")
		date := m.now.In(loc).Format("2006-01-02")
		seen := map[string]string{}
		for i := 0; i < 4000; i++ {
			id := fmt.Sprintf("q%d", i)
			c := hub.DailyDoorcode(secret, door, id, date, 0, length)
			if other, ok := seen[c]; ok {
				m.pair, m.pairDoor, m.pairDate = []string{other, id}, door, date
				m.people = append(m.people, other, id)
				m.logf("(%s and %s share a daily code at %s on %s)", other, id, door, date)
				break
			}
			seen[c] = id
		}
	}
}

// ---- helpers for drawing ----

func (m *modelRun) doorIDs() []string {
	var ids []string
	for _, d := range m.ref.st.doors {
		ids = append(ids, d.id)
	}
	return ids
}

func (m *modelRun) keyIDs() []string {
	var ids []string
	for _, k := range m.ref.st.keys {
		ids = append(ids, k.id)
	}
	return ids
}

func (m *modelRun) personIDs() []string {
	var ids []string
	for _, p := range m.ref.st.people {
		ids = append(ids, p.id)
	}
	return ids
}

// choose mostly picks an existing id, sometimes any of the alphabet (which
// may be missing: the store must then reject the batch).
func (m *modelRun) choose(t *rapid.T, label string, existing, alphabet []string) string {
	if len(existing) > 0 && rapid.IntRange(0, 9).Draw(t, label+"_existing") < 9 {
		return rapid.SampledFrom(existing).Draw(t, label)
	}
	return rapid.SampledFrom(alphabet).Draw(t, label)
}

func (m *modelRun) email(t *rapid.T) string {
	e := rapid.SampledFrom(modelEmails).Draw(t, "email")
	switch rapid.IntRange(0, 3).Draw(t, "email_case") {
	case 1:
		e = strings.ToUpper(e)
	case 2:
		e = strings.ToUpper(e[:1]) + e[1:]
	}
	return e
}

func (m *modelRun) loc() *time.Location { return m.ref.st.site.loc }

// midnight is the start of the local day off days from today.
func (m *modelRun) midnight(off int) time.Time {
	y, mo, d := m.now.In(m.loc()).Date()
	return time.Date(y, mo, d+off, 0, 0, 0, 0, m.loc())
}

// instant draws a time near now: an offset from now, a local midnight, or
// an instant some record already uses.
func (m *modelRun) instant(t *rapid.T, label string) time.Time {
	switch rapid.IntRange(0, 4).Draw(t, label+"_how") {
	case 0, 1:
		offs := append([]time.Duration(nil), modelOffsets...)
		offs = append(offs, m.ref.margin-time.Nanosecond, m.ref.margin, m.ref.margin+time.Nanosecond)
		return m.now.Add(rapid.SampledFrom(offs).Draw(t, label+"_offset"))
	case 2:
		day := rapid.IntRange(-1, 2).Draw(t, label+"_day")
		return m.midnight(day).Add(rapid.SampledFrom([]time.Duration{-time.Nanosecond, 0, 0, time.Nanosecond}).Draw(t, label+"_nudge"))
	case 3:
		if in := m.instants(); len(in) > 0 {
			return rapid.SampledFrom(in).Draw(t, label+"_record")
		}
	}
	return m.now
}

// window draws [start, expires); expires is nil only when optional. Now
// and then an empty window is kept: the store must reject it.
func (m *modelRun) window(t *rapid.T, label string, optional bool) (time.Time, *time.Time) {
	start := m.instant(t, label+"_start")
	if optional && rapid.IntRange(0, 2).Draw(t, label+"_open") == 0 {
		return start, nil
	}
	exp := m.instant(t, label+"_expires")
	if !exp.After(start) && rapid.IntRange(0, 19).Draw(t, label+"_keep_empty") != 0 {
		exp = start.Add(rapid.SampledFrom(modelPositive).Draw(t, label+"_length"))
	}
	return start, &exp
}

// instants lists the times the records use, and what follows from them.
func (m *modelRun) instants() []time.Time {
	s := m.ref.st
	var out []time.Time
	addExp := func(e *time.Time) {
		if e != nil {
			out = append(out, *e, e.Add(-m.ref.margin))
		}
	}
	for _, g := range s.grants {
		out = append(out, g.start)
		addExp(g.expires)
	}
	for _, g := range s.guests {
		if !g.permanent {
			out = append(out, g.start)
			addExp(g.expires)
		}
	}
	for _, c := range s.codes {
		if c.fifteen {
			out = append(out, c.start, *c.expires)
			if c.firstUse != nil {
				out = append(out, c.firstUse.Add(15*time.Minute))
			}
		} else {
			a, b := m.ref.dateBounds(c.date)
			out = append(out, a, b)
		}
	}
	for _, tr := range s.tours {
		out = append(out, tr.start, tr.end)
	}
	for _, l := range m.ref.lockouts {
		if !l.until.IsZero() {
			out = append(out, l.until)
		}
		for _, w := range l.wrong {
			out = append(out, w.Add(m.ref.window))
		}
	}
	out = append(out, m.midnight(1))
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func modelT(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999999Z") }

func modelWindow(start time.Time, exp *time.Time) string {
	if exp == nil {
		return "[" + modelT(start) + ", open)"
	}
	return "[" + modelT(start) + ", " + modelT(*exp) + ")"
}

func (m *modelRun) digits(t *rapid.T, label string, length int) string {
	n := rapid.IntRange(0, 9999999).Draw(t, label)
	return fmt.Sprintf("%07d", n)[7-length:]
}

func (m *modelRun) dailyCode(personID, doorID, date string, reroll uint32) string {
	s := m.ref.st.site
	return hub.DailyDoorcode(s.secret, doorID, personID, date, reroll, s.length)
}

// someCode draws digits for a guest or tour code: random, someone's daily
// code today, or digits another code already uses.
func (m *modelRun) someCode(t *rapid.T, label string) string {
	length := m.ref.st.site.length
	if rapid.IntRange(0, 19).Draw(t, label+"_bad_length") == 0 {
		length = 5 + (length-5+1)%3
	}
	switch rapid.IntRange(0, 3).Draw(t, label+"_how") {
	case 1:
		if len(m.ref.st.people) > 0 && len(m.ref.st.doors) > 0 && length == m.ref.st.site.length {
			p := rapid.SampledFrom(m.ref.st.people).Draw(t, label+"_person")
			d := rapid.SampledFrom(m.doorIDs()).Draw(t, label+"_door")
			date, _, _ := m.ref.localDay(m.now)
			return m.dailyCode(p.id, d, date, p.reroll)
		}
	case 2:
		var used []string
		for _, c := range m.ref.st.codes {
			used = append(used, c.digits)
		}
		for _, tr := range m.ref.st.tours {
			used = append(used, tr.digits)
		}
		if len(used) > 0 {
			return rapid.SampledFrom(used).Draw(t, label+"_reuse")
		}
	}
	return m.digits(t, label+"_random", length)
}

// ---- batches ----

func (m *modelRun) submit(t *rapid.T, what string, ops []hub.Op) bool {
	return m.submitBatch(t, what, &hub.Batch{Site: modelSiteID, Base: m.version,
		Version: m.version + 1, IssuedAt: m.now, Ops: ops})
}

// submitBatch applies a batch to the store and to the reference, checks
// that both accept or both reject it (with the predicted error), and then
// that keycard decisions everywhere still agree.
func (m *modelRun) submitBatch(t *rapid.T, what string, b *hub.Batch) bool {
	var lines []string
	for _, o := range b.Ops {
		lines = append(lines, "      "+modelFmtOp(o))
	}
	next, wantErr, idx := m.ref.st.applyBatch(b, m.version)
	err := m.store.Apply(context.Background(), b)
	m.logf("%s: batch v%d on v%d → %v\n%s", what, b.Version, b.Base, err, strings.Join(lines, "\n"))
	switch {
	case wantErr == nil && err != nil:
		m.fatalf(t, "the store rejected a batch the reference accepts: %v", err)
	case wantErr != nil && err == nil:
		m.fatalf(t, "the store accepted a batch the reference rejects (%v at op %d)", wantErr, idx)
	case wantErr == refErrMissingRef && !errors.Is(err, hub.ErrNotFound),
		wantErr != nil && wantErr != refErrMissingRef && !errors.Is(err, wantErr):
		m.fatalf(t, "the store rejected the batch with %v; the reference expects %v at op %d", err, wantErr, idx)
	case idx >= 0 && !strings.Contains(err.Error(), fmt.Sprintf("[%d]", idx)):
		m.fatalf(t, "the error %q does not name the op index %d", err, idx)
	}
	if err == nil {
		m.ref.st, m.version, m.last = next, b.Version, b
		m.stats.add("batch accepted")
	} else {
		m.stats.add("batch rejected: " + wantErr.Error())
	}
	if v := m.store.Version(); v != m.version {
		m.fatalf(t, "store at version %d after the batch, want %d", v, m.version)
	}
	m.sweep(t)
	return err == nil
}

// sweep presents every keycard (and an unknown one) at every door: these
// decisions change no state, so they can follow every batch, including
// rejected ones, which must leave them as they were.
func (m *modelRun) sweep(t *rapid.T) {
	var cards []string
	for _, c := range m.ref.st.cards {
		cards = append(cards, c.id)
	}
	for _, door := range append(m.doorIDs(), "d9") {
		for _, c := range append(cards, "deadbeef") {
			m.present(t, door, refPresentation{kind: hub.CredKeycard, cardID: c}, "keycard "+c, false)
		}
	}
}

// ---- the property manager ----

func (m *modelRun) genKey(t *rapid.T, id string, doors []string) *hub.Key {
	k := &hub.Key{ID: id, Name: "key " + id,
		DoorcodesAllowed: rapid.IntRange(0, 3).Draw(t, "key_doorcodes") > 0,
		MayShareAllowed:  rapid.IntRange(0, 3).Draw(t, "key_sharing") > 0}
	for _, d := range doors {
		if rapid.Bool().Draw(t, "key_has_"+d) {
			k.Doors = append(k.Doors, d)
		}
	}
	return k
}

func (m *modelRun) genGrant(t *rapid.T, personID string) *hub.Grant {
	start, exp := m.window(t, "grant", true)
	return &hub.Grant{
		ID:       rapid.SampledFrom(modelGrantIDs).Draw(t, "grant_id"),
		PersonID: personID,
		KeyID:    m.choose(t, "grant_key", m.keyIDs(), modelKeyIDs),
		Resident: rapid.Bool().Draw(t, "resident"),
		MayShare: rapid.Bool().Draw(t, "may_share"),
		StartsAt: start,
		Expires:  exp,
		Method:   rapid.SampledFrom([]hub.AccessMethod{hub.MethodApp, hub.MethodDoorcode}).Draw(t, "method"),
	}
}

func modelPutPerson(id, email string, manager bool, reroll uint32) hub.Op {
	return hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: email, Name: "person " + id,
		Manager: manager, Reroll: reroll}}
}

// inviteOps: invite by email; an existing email (any case) gets the keys
// added to the existing person. Now and then the "cloud" wrongly creates a
// second person with the same email, which the store must refuse.
func (m *modelRun) inviteOps(t *rapid.T) []hub.Op {
	email := m.email(t)
	var ops []hub.Op
	var pid string
	if p := m.ref.st.personByEmail(email); p != nil && rapid.IntRange(0, 9).Draw(t, "duplicate_email") > 0 {
		pid = p.id
	} else {
		pid = rapid.SampledFrom(m.people).Draw(t, "new_person")
		ops = append(ops, modelPutPerson(pid, email, rapid.IntRange(0, 5).Draw(t, "manager") == 0, 0))
	}
	n := rapid.IntRange(1, 2).Draw(t, "invite_keys")
	for i := 0; i < n; i++ {
		ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: m.genGrant(t, pid)})
	}
	return ops
}

func (m *modelRun) actInvite(t *rapid.T) { m.submit(t, "invite", m.inviteOps(t)) }

func modelGrantOf(g refGrant) *hub.Grant {
	return &hub.Grant{ID: g.id, PersonID: g.person, KeyID: g.key, Resident: g.resident,
		MayShare: g.mayShare, StartsAt: g.start, Expires: g.expires, Method: g.method}
}

func (m *modelRun) actEditGrant(t *rapid.T) {
	if len(m.ref.st.grants) == 0 {
		t.Skip("no grant to edit")
	}
	g := modelGrantOf(rapid.SampledFrom(m.ref.st.grants).Draw(t, "grant"))
	what := ""
	switch rapid.IntRange(0, 5).Draw(t, "edit") {
	case 0:
		what = "expiry"
		if rapid.IntRange(0, 3).Draw(t, "open_ended") == 0 {
			g.Expires = nil
		} else {
			e := m.instant(t, "new_expiry")
			g.Expires = &e
		}
	case 1:
		what = "resident"
		g.Resident = !g.Resident
	case 2:
		what = "may_share"
		g.MayShare = !g.MayShare
	case 3:
		what = "method"
		if g.Method == hub.MethodApp {
			g.Method = hub.MethodDoorcode
		} else {
			g.Method = hub.MethodApp
		}
	case 4:
		what = "start"
		g.StartsAt = m.instant(t, "new_start")
	case 5:
		what = "key"
		g.KeyID = m.choose(t, "new_key", m.keyIDs(), modelKeyIDs)
	}
	m.submit(t, "edit access ("+what+")", []hub.Op{{Type: hub.OpPutGrant, Grant: g}})
}

func (m *modelRun) actRemoveGrant(t *rapid.T) {
	var ids []string
	for _, g := range m.ref.st.grants {
		ids = append(ids, g.id)
	}
	id := m.choose(t, "grant", ids, modelGrantIDs)
	m.submit(t, "remove key", []hub.Op{{Type: hub.OpDeleteGrant, ID: id}})
}

func (m *modelRun) actRevoke(t *rapid.T) {
	id := m.choose(t, "person", m.personIDs(), m.people)
	m.submit(t, "revoke all keys", []hub.Op{{Type: hub.OpRevokePerson, ID: id}})
}

func (m *modelRun) actDeletePerson(t *rapid.T) {
	id := m.choose(t, "person", m.personIDs(), m.people)
	m.submit(t, "delete person", []hub.Op{{Type: hub.OpDeletePerson, ID: id}})
}

// hostAndKey draws a host, preferably one holding grants, and one of their
// keys (or any key).
func (m *modelRun) hostAndKey(t *rapid.T) (string, string) {
	var sharers []refGrant
	for _, g := range m.ref.st.grants {
		if g.mayShare {
			sharers = append(sharers, g)
		}
	}
	if len(sharers) > 0 && rapid.IntRange(0, 3).Draw(t, "host_may_share") > 0 {
		g := rapid.SampledFrom(sharers).Draw(t, "host_grant")
		return g.person, g.key
	}
	var holders []string
	for _, g := range m.ref.st.grants {
		if !refHas(holders, g.person) {
			holders = append(holders, g.person)
		}
	}
	if len(holders) == 0 {
		holders = m.personIDs()
	}
	host := m.choose(t, "host", holders, m.people)
	var keys []string
	for _, g := range m.ref.st.grants {
		if g.person == host && !refHas(keys, g.key) {
			keys = append(keys, g.key)
		}
	}
	if len(keys) == 0 {
		keys = m.keyIDs()
	}
	return host, m.choose(t, "shared_key", keys, modelKeyIDs)
}

func (m *modelRun) actShare(t *rapid.T) {
	if rapid.IntRange(0, 5).Draw(t, "unshare") == 0 {
		var ids []string
		for _, g := range m.ref.st.guests {
			ids = append(ids, g.id)
		}
		m.submit(t, "stop sharing", []hub.Op{{Type: hub.OpDeleteGuestGrant, ID: m.choose(t, "guest_grant", ids, modelGuestIDs)}})
		return
	}
	host, kid := m.hostAndKey(t)
	gg := &hub.GuestGrant{ID: rapid.SampledFrom(modelGuestIDs).Draw(t, "guest_grant_id"), HostID: host, KeyID: kid}
	var ops []hub.Op
	switch rapid.IntRange(0, 2).Draw(t, "guest_kind") {
	case 0: // a person already known
		gg.GuestID = m.choose(t, "guest", m.personIDs(), m.people)
	case 1: // a guest invited by email
		email := m.email(t)
		if p := m.ref.st.personByEmail(email); p != nil {
			gg.GuestID = p.id
		} else {
			gg.GuestID = rapid.SampledFrom(m.people).Draw(t, "new_guest")
			if gg.GuestID != host {
				ops = append(ops, modelPutPerson(gg.GuestID, email, false, 0))
			}
		}
	}
	if gg.GuestID == host || gg.GuestID == "" {
		gg.GuestID = ""
		gg.Service = rapid.SampledFrom(modelServices).Draw(t, "service")
	}
	if rapid.Bool().Draw(t, "permanent") {
		gg.Permanent = true
	} else {
		gg.StartsAt, gg.Expires = m.window(t, "guest", false)
	}
	ops = append(ops, hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: gg})
	m.submit(t, "share", ops)
}

// codeID draws a guest code id from the small alphabet, so deleted codes'
// ids come back (a new code under an old id starts unused).
func (m *modelRun) codeID(t *rapid.T) string {
	return rapid.SampledFrom(modelCodeIDs).Draw(t, "code_id")
}

func (m *modelRun) actGuestCode(t *rapid.T) {
	if rapid.IntRange(0, 5).Draw(t, "delete_code") == 0 {
		var ids []string
		for _, c := range m.ref.st.codes {
			ids = append(ids, c.id)
		}
		m.submit(t, "delete guest code", []hub.Op{{Type: hub.OpDeleteGuestCode, ID: m.choose(t, "code", ids, modelCodeIDs)}})
		return
	}
	host, kid := m.hostAndKey(t)
	c := &hub.GuestCode{ID: m.codeID(t), HostID: host, KeyID: kid,
		Code: m.someCode(t, "guest_code")}
	if rapid.Bool().Draw(t, "single_day") {
		c.Kind = hub.CodeSingleDay
		c.Date = m.midnight(rapid.SampledFrom([]int{-1, 0, 0, 0, 1, 2}).Draw(t, "code_day")).Format("2006-01-02")
	} else {
		c.Kind = hub.CodeFifteenMinute
		if rapid.Bool().Draw(t, "code_open_now") {
			// First use possible from now on, for a while.
			exp := m.now.Add(rapid.SampledFrom(modelPositive).Draw(t, "code_first_use_for"))
			c.StartsAt, c.Expires = m.now.Add(-rapid.SampledFrom(modelPositive).Draw(t, "code_since")), &exp
		} else {
			c.StartsAt, c.Expires = m.window(t, "code", false)
		}
	}
	m.submit(t, "share a guest code", []hub.Op{{Type: hub.OpPutGuestCode, GuestCode: c}})
}

func (m *modelRun) actKeycard(t *rapid.T) {
	var ids []string
	for _, c := range m.ref.st.cards {
		ids = append(ids, c.id)
	}
	switch rapid.IntRange(0, 3).Draw(t, "keycard_action") {
	case 0, 1:
		card := rapid.SampledFrom(modelCardIDs).Draw(t, "card")
		owner := m.owner(t)
		m.submit(t, "activate keycard", []hub.Op{{Type: hub.OpPutKeycard,
			Keycard: &hub.Keycard{CardID: card, OwnerID: owner, Active: true}}})
	case 2:
		if len(m.ref.st.cards) == 0 {
			t.Skip("no keycard")
		}
		c := rapid.SampledFrom(m.ref.st.cards).Draw(t, "card")
		m.submit(t, "deactivate keycard", []hub.Op{{Type: hub.OpPutKeycard,
			Keycard: &hub.Keycard{CardID: c.id, OwnerID: c.owner, Active: false}}})
	case 3:
		m.submit(t, "delete keycard", []hub.Op{{Type: hub.OpDeleteKeycard, ID: m.choose(t, "card", ids, modelCardIDs)}})
	}
}

// owner draws the owner of a new keycard or phone: mostly someone who
// holds a grant or is a guest, so that the credential opens something.
func (m *modelRun) owner(t *rapid.T) string {
	var with []string
	for _, g := range m.ref.st.grants {
		if !refHas(with, g.person) {
			with = append(with, g.person)
		}
	}
	for _, g := range m.ref.st.guests {
		if g.guest != "" && !refHas(with, g.guest) {
			with = append(with, g.guest)
		}
	}
	if len(with) > 0 && rapid.IntRange(0, 3).Draw(t, "owner_with_access") > 0 {
		return rapid.SampledFrom(with).Draw(t, "owner")
	}
	return m.choose(t, "owner", m.personIDs(), m.people)
}

func (m *modelRun) actPhone(t *rapid.T) {
	if rapid.IntRange(0, 3).Draw(t, "delete_phone") == 0 {
		var ids []string
		for _, d := range m.ref.st.devices {
			ids = append(ids, d.id)
		}
		m.submit(t, "delete phone", []hub.Op{{Type: hub.OpDeleteDevice, ID: m.choose(t, "device", ids, modelDevIDs)}})
		return
	}
	i := rapid.IntRange(0, len(modelPhones)-2).Draw(t, "phone")
	d := &hub.Device{ID: rapid.SampledFrom(modelDevIDs).Draw(t, "device"),
		OwnerID:   m.owner(t),
		PublicKey: modelPhones[i].Public().(ed25519.PublicKey)}
	m.submit(t, "register phone", []hub.Op{{Type: hub.OpPutDevice, Device: d}})
}

func (m *modelRun) actTour(t *rapid.T) {
	if rapid.IntRange(0, 4).Draw(t, "delete_tour") == 0 {
		var ids []string
		for _, tr := range m.ref.st.tours {
			ids = append(ids, tr.id)
		}
		m.submit(t, "cancel tour", []hub.Op{{Type: hub.OpDeleteTour, ID: m.choose(t, "tour", ids, modelTourIDs)}})
		return
	}
	start, end := m.window(t, "tour", false)
	tr := &hub.Tour{ID: rapid.SampledFrom(modelTourIDs).Draw(t, "tour_id"),
		Integration: rapid.SampledFrom(modelIntegs).Draw(t, "integration"),
		Code:        m.someCode(t, "tour_code"), StartsAt: start, EndsAt: *end}
	n := rapid.IntRange(1, 2).Draw(t, "tour_keys")
	for i := 0; i < n; i++ {
		k := m.choose(t, "tour_key", m.keyIDs(), modelKeyIDs)
		if !refHas(tr.Keys, k) {
			tr.Keys = append(tr.Keys, k)
		}
	}
	m.submit(t, "book tour", []hub.Op{{Type: hub.OpPutTour, Tour: tr}})
}

func (m *modelRun) actAllowlist(t *rapid.T) {
	integ := rapid.SampledFrom(modelIntegs).Draw(t, "integration")
	if rapid.IntRange(0, 4).Draw(t, "delete_allowlist") == 0 {
		m.submit(t, "drop allowlist", []hub.Op{{Type: hub.OpDeleteAllowlist, ID: integ}})
		return
	}
	a := &hub.Allowlist{Integration: integ}
	n := rapid.IntRange(0, 2).Draw(t, "allowlist_keys")
	for i := 0; i < n; i++ {
		k := m.choose(t, "allowlist_key", m.keyIDs(), modelKeyIDs)
		if !refHas(a.Keys, k) {
			a.Keys = append(a.Keys, k)
		}
	}
	m.submit(t, "allowlist keys", []hub.Op{{Type: hub.OpPutAllowlist, Allowlist: a}})
}

func (m *modelRun) actEditPerson(t *rapid.T) {
	if len(m.ref.st.people) == 0 {
		t.Skip("nobody")
	}
	p := rapid.SampledFrom(m.ref.st.people).Draw(t, "person")
	what := ""
	switch rapid.IntRange(0, 3).Draw(t, "person_edit") {
	case 0, 1:
		what = "re-roll the doorcode"
		p.reroll++
	case 2:
		what = "manager permissions"
		p.manager = !p.manager
	case 3:
		what = "email"
		p.email = m.email(t)
	}
	m.submit(t, "edit person ("+what+")", []hub.Op{modelPutPerson(p.id, p.email, p.manager, p.reroll)})
}

func (m *modelRun) actEditDoor(t *rapid.T) {
	if rapid.IntRange(0, 3).Draw(t, "delete_door") == 0 {
		m.submit(t, "remove door", []hub.Op{{Type: hub.OpDeleteDoor, ID: m.choose(t, "door", m.doorIDs(), modelDoorIDs)}})
		return
	}
	id := rapid.SampledFrom(modelDoorIDs).Draw(t, "door")
	typ := rapid.SampledFrom(modelDoorTypes).Draw(t, "door_type")
	m.submit(t, "put door", []hub.Op{{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: "door " + id, Type: typ}}})
}

func (m *modelRun) actEditKey(t *rapid.T) {
	if rapid.IntRange(0, 4).Draw(t, "delete_key") == 0 {
		m.submit(t, "delete key", []hub.Op{{Type: hub.OpDeleteKey, ID: m.choose(t, "key", m.keyIDs(), modelKeyIDs)}})
		return
	}
	doors := m.doorIDs()
	if rapid.IntRange(0, 9).Draw(t, "key_missing_door") == 0 {
		doors = modelDoorIDs
	}
	id := rapid.SampledFrom(modelKeyIDs).Draw(t, "key")
	m.submit(t, "put key", []hub.Op{{Type: hub.OpPutKey, Key: m.genKey(t, id, doors)}})
}

func (m *modelRun) actEditSite(t *rapid.T) {
	s := m.ref.st.site
	site := &hub.Site{ID: modelSiteID, TimeZone: s.tz, DoorcodeLength: s.length, DoorcodeSecret: s.secret}
	switch rapid.IntRange(0, 2).Draw(t, "site_edit") {
	case 0:
		site.DoorcodeLength = rapid.IntRange(5, 7).Draw(t, "length")
	case 1:
		site.TimeZone = rapid.SampledFrom(modelZones).Draw(t, "tz")
	case 2:
		site.DoorcodeSecret = rapid.SliceOfN(rapid.Byte(), 16, 24).Draw(t, "secret")
	}
	m.submit(t, "edit site", []hub.Op{{Type: hub.OpPutSite, Site: site}})
}

// actCollide gives the two people whose codes collide a doorcode grant at
// that door, and tries one of their codes.
func (m *modelRun) actCollide(t *rapid.T) {
	if m.pair == nil {
		t.Skip("no colliding pair")
	}
	var ops []hub.Op
	kid := ""
	for _, k := range m.ref.st.keys {
		if k.doorcodes && refHas(k.doors, m.pairDoor) {
			kid = k.id
		}
	}
	if kid == "" {
		kid = rapid.SampledFrom(modelKeyIDs).Draw(t, "pair_key")
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: kid, Name: "pair key",
			Doors: []string{m.pairDoor}, DoorcodesAllowed: true, MayShareAllowed: true}})
	}
	for i, id := range m.pair {
		p := m.ref.st.person(id)
		if p == nil || p.reroll != 0 {
			email := fmt.Sprintf("pair%d@example.com", i)
			if p != nil {
				email = p.email
			}
			ops = append(ops, modelPutPerson(id, email, false, 0))
		}
		start := m.now.Add(-time.Hour)
		ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{
			ID: rapid.SampledFrom(modelGrantIDs).Draw(t, "pair_grant"), PersonID: id, KeyID: kid,
			StartsAt: start, Method: hub.MethodDoorcode}})
	}
	if m.submit(t, "invite two people with a doorcode", ops) && m.ref.st.door(m.pairDoor) != nil {
		date, _, _ := m.ref.localDay(m.now)
		code := m.dailyCode(m.pair[0], m.pairDoor, date, 0)
		m.present(t, m.pairDoor, refPresentation{kind: hub.CredDoorcode, code: code},
			fmt.Sprintf("doorcode %s (daily code of %s on %s)", code, m.pair[0], date), true)
	}
}

// actGuestArrives: a resident whose grant may share it now shares the key
// with a guest (keycard or phone) or with a guest code, and the guest
// comes to one of the key's doors.
func (m *modelRun) actGuestArrives(t *rapid.T) {
	s := m.ref.st
	var sharers []refGrant
	for _, g := range s.grants {
		k := s.key(g.key)
		if g.mayShare && k != nil && k.sharing && len(k.doors) > 0 && refWindowReason(g.start, g.expires, m.now) == "" {
			sharers = append(sharers, g)
		}
	}
	if len(sharers) == 0 {
		t.Skip("nobody may share now")
	}
	g := rapid.SampledFrom(sharers).Draw(t, "sharer")
	door := rapid.SampledFrom(s.key(g.key).doors).Draw(t, "guest_door")
	since := m.now.Add(-rapid.SampledFrom(modelPositive).Draw(t, "guest_since"))
	until := m.now.Add(rapid.SampledFrom(modelPositive).Draw(t, "guest_until"))
	var guests []string
	for _, p := range s.people {
		if p.id != g.person {
			guests = append(guests, p.id)
		}
	}
	if len(guests) == 0 || rapid.Bool().Draw(t, "share_code") {
		c := &hub.GuestCode{ID: m.codeID(t), HostID: g.person, KeyID: g.key,
			Code: m.digits(t, "guest_code", s.site.length)}
		if rapid.Bool().Draw(t, "single_day") {
			c.Kind, c.Date = hub.CodeSingleDay, m.midnight(0).Format("2006-01-02")
		} else {
			c.Kind, c.StartsAt, c.Expires = hub.CodeFifteenMinute, since, &until
		}
		if m.submit(t, "share a guest code for today", []hub.Op{{Type: hub.OpPutGuestCode, GuestCode: c}}) {
			m.present(t, door, refPresentation{kind: hub.CredDoorcode, code: c.Code}, "doorcode "+c.Code+" (the guest code)", true)
		}
		return
	}
	guest := rapid.SampledFrom(guests).Draw(t, "guest")
	gg := &hub.GuestGrant{ID: rapid.SampledFrom(modelGuestIDs).Draw(t, "guest_grant_id"), HostID: g.person,
		KeyID: g.key, GuestID: guest}
	if rapid.Bool().Draw(t, "permanent") {
		gg.Permanent = true
	} else {
		gg.StartsAt, gg.Expires = since, &until
	}
	ops := []hub.Op{{Type: hub.OpPutGuestGrant, GuestGrant: gg}}
	phone := rapid.Bool().Draw(t, "guest_phone")
	var dev *refDevice
	for i := range s.devices {
		if s.devices[i].owner == guest {
			dev = &s.devices[i]
		}
	}
	if phone && dev == nil {
		i := rapid.IntRange(0, len(modelPhones)-2).Draw(t, "phone")
		ops = append(ops, hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: rapid.SampledFrom(modelDevIDs).Draw(t, "device"),
			OwnerID: guest, PublicKey: modelPhones[i].Public().(ed25519.PublicKey)}})
	}
	card := ""
	for _, c := range s.cards {
		if c.owner == guest && c.active {
			card = c.id
		}
	}
	if !phone && card == "" {
		card = rapid.SampledFrom(modelCardIDs).Draw(t, "card")
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: card, OwnerID: guest, Active: true}})
	}
	if !m.submit(t, "share with a guest", ops) {
		return
	}
	if phone {
		for _, d := range m.ref.st.devices {
			if d.owner == guest {
				i := modelPhoneIndex(d.pub)
				nonce := []byte("nonce-" + door)
				sig := ed25519.Sign(modelPhones[i], append([]byte("doorhub-mobile-v1\x00"+door+"\x00"), nonce...))
				m.present(t, door, refPresentation{kind: hub.CredMobile, pub: d.pub, nonce: nonce, sig: sig},
					fmt.Sprintf("phone#%d (valid, the guest's)", i), true)
				return
			}
		}
	}
	m.present(t, door, refPresentation{kind: hub.CredKeycard, cardID: card}, "keycard "+card+" (the guest's)", true)
}

// actTourArrives: an integration books a tour on an allowlisted key and
// the prospect types the code at one of its doors.
func (m *modelRun) actTourArrives(t *rapid.T) {
	s := m.ref.st
	var keys []string
	for _, k := range s.keys {
		if len(k.doors) > 0 {
			keys = append(keys, k.id)
		}
	}
	if len(keys) == 0 {
		t.Skip("no key with doors")
	}
	kid := rapid.SampledFrom(keys).Draw(t, "tour_key")
	integ := rapid.SampledFrom(modelIntegs).Draw(t, "integration")
	a := &hub.Allowlist{Integration: integ, Keys: []string{kid}}
	if old := s.allowlist(integ); old != nil && !refHas(old.keys, kid) {
		a.Keys = append(append([]string(nil), old.keys...), kid)
	} else if old != nil {
		a.Keys = old.keys
	}
	end := m.now.Add(rapid.SampledFrom(modelPositive).Draw(t, "tour_until"))
	tr := &hub.Tour{ID: rapid.SampledFrom(modelTourIDs).Draw(t, "tour_id"), Integration: integ,
		Code: m.digits(t, "tour_code", s.site.length), StartsAt: m.now.Add(-rapid.SampledFrom(modelPositive).Draw(t, "tour_since")),
		EndsAt: end, Keys: []string{kid}}
	if m.submit(t, "book an allowlisted tour", []hub.Op{{Type: hub.OpPutAllowlist, Allowlist: a}, {Type: hub.OpPutTour, Tour: tr}}) {
		door := rapid.SampledFrom(s.key(kid).doors).Draw(t, "tour_door")
		m.present(t, door, refPresentation{kind: hub.CredDoorcode, code: tr.Code}, "doorcode "+tr.Code+" (the tour's)", true)
	}
}

// actBadBatch sends batches the store must refuse, leaving everything as
// it was.
func (m *modelRun) actBadBatch(t *rapid.T) {
	missing := func() hub.Op {
		switch rapid.IntRange(0, 9).Draw(t, "missing_kind") {
		case 0:
			return hub.Op{Type: hub.OpDeleteDoor, ID: "zz"}
		case 1:
			return hub.Op{Type: hub.OpDeleteKey, ID: "zz"}
		case 2:
			return hub.Op{Type: hub.OpDeletePerson, ID: "zz"}
		case 3:
			return hub.Op{Type: hub.OpRevokePerson, ID: "zz"}
		case 4:
			return hub.Op{Type: hub.OpDeleteGrant, ID: "zz"}
		case 5:
			return hub.Op{Type: hub.OpDeleteGuestGrant, ID: "zz"}
		case 6:
			return hub.Op{Type: hub.OpDeleteKeycard, ID: "deadbeef"}
		case 7:
			return hub.Op{Type: hub.OpDeleteDevice, ID: "zz"}
		case 8:
			return hub.Op{Type: hub.OpDeleteGuestCode, ID: "zz"}
		default:
			return hub.Op{Type: hub.OpDeleteTour, ID: "zz"}
		}
	}
	switch rapid.IntRange(0, 3).Draw(t, "bad_batch") {
	case 0:
		m.submit(t, "delete a missing record", []hub.Op{missing()})
	case 1:
		ops := m.inviteOps(t)
		at := rapid.IntRange(0, len(ops)).Draw(t, "bad_at")
		ops = append(ops[:at], append([]hub.Op{missing()}, ops[at:]...)...)
		m.submit(t, "invite with a bad op inside", ops)
	case 2:
		if m.last == nil {
			t.Skip("no batch to replay")
		}
		m.submitBatch(t, "replay the last batch", m.last)
	case 3:
		m.submitBatch(t, "a batch after a gap", &hub.Batch{Site: modelSiteID, Base: m.version + 1,
			Version: m.version + 2, IssuedAt: m.now, Ops: m.inviteOps(t)})
	}
}

// ---- time ----

func (m *modelRun) setNow(to time.Time, why string) {
	m.now = to
	m.logf("%s: now %s (trusted=%t)", why, modelT(m.now), m.trusted)
}

func (m *modelRun) actTick(t *rapid.T) {
	m.setNow(m.now.Add(rapid.SampledFrom(modelSmallSteps).Draw(t, "tick")), "time passes")
}

func (m *modelRun) actJump(t *rapid.T) {
	m.setNow(m.now.Add(rapid.SampledFrom(modelBigSteps).Draw(t, "jump")), "days pass")
}

// actBoundary moves to (or just before) an instant where some window
// starts or ends, where an expiry comes within the margin, or midnight.
func (m *modelRun) actBoundary(t *rapid.T) {
	var ahead []time.Time
	for _, x := range m.instants() {
		if x.After(m.now) {
			ahead = append(ahead, x)
		}
	}
	if len(ahead) == 0 {
		t.Skip("nothing ahead")
	}
	to := rapid.SampledFrom(ahead).Draw(t, "boundary")
	if rapid.Bool().Draw(t, "just_before") && to.Add(-time.Nanosecond).After(m.now) {
		to = to.Add(-time.Nanosecond)
	}
	m.setNow(to, "to a boundary")
}

func (m *modelRun) actTrust(t *rapid.T) {
	m.trusted = rapid.IntRange(0, 3).Draw(t, "trusted") > 0
	if !m.trusted && rapid.Bool().Draw(t, "power_cut") {
		// After a power cut the hub decides at the floor: later than
		// before, by how long it has been running since.
		m.now = m.now.Add(rapid.SampledFrom(modelSmallSteps).Draw(t, "uptime"))
	}
	m.setNow(m.now, "clock trust changes")
}

// actRestart restarts the daemon: the keypad counters are gone, first uses
// are not (the store keeps them).
func (m *modelRun) actRestart(t *rapid.T) {
	m.eng = hub.NewEngine(m.store, m.opts)
	m.ref.lockouts = map[string]*refLockout{}
	m.trusted = rapid.IntRange(0, 2).Draw(t, "trusted_after_restart") > 0
	m.setNow(m.now, "restart")
}

// actDoorLists checks DoorLists, which computes a door's list again only
// when a batch since its last computation touched the door (or a window
// ended): every door's desired list must be the one computed afresh.
func (m *modelRun) actDoorLists(t *rapid.T) {
	got := map[string]string{}
	overflow := map[string]int{}
	for _, p := range m.lists.Pending() {
		got[p.Door], overflow[p.Door] = p.DesiredDigest, p.Overflow
	}
	m.stats.add("door lists")
	m.store.View(func(c *hub.Catalog) {
		for _, d := range c.Doors() {
			l, err := hub.DoorListOf(c, d.ID, m.now)
			if err != nil {
				m.fatalf(t, "door %s: %v", d.ID, err)
			}
			if want := hex.EncodeToString(l.Digest[:]); got[d.ID] != want {
				m.fatalf(t, "door %s: DoorLists desires %s, a fresh list is %s (%d entries)", d.ID, got[d.ID], want, len(l.Entries))
			}
			if overflow[d.ID] != l.Overflow.Total() {
				m.fatalf(t, "door %s: DoorLists reports %d left out, a fresh list %d", d.ID, overflow[d.ID], l.Overflow.Total())
			}
		}
	})
}

// ---- presentations ----

// door draws where to present: mostly a door of one of the related keys,
// else an existing door, now and then any door (which may be unknown).
func (m *modelRun) door(t *rapid.T, keys ...string) string {
	var related []string
	for _, kid := range keys {
		if k := m.ref.st.key(kid); k != nil {
			for _, d := range k.doors {
				if !refHas(related, d) {
					related = append(related, d)
				}
			}
		}
	}
	switch rapid.IntRange(0, 9).Draw(t, "door_how") {
	case 0:
		return rapid.SampledFrom(append(append([]string(nil), modelDoorIDs...), "d9")).Draw(t, "any_door")
	case 1, 2:
	default:
		if len(related) > 0 {
			return rapid.SampledFrom(related).Draw(t, "related_door")
		}
	}
	if ids := m.doorIDs(); len(ids) > 0 {
		return rapid.SampledFrom(ids).Draw(t, "at_door")
	}
	return "d9"
}

// keysOf lists the keys of a person's grants and guest grants.
func (m *modelRun) keysOf(personID string) []string {
	var keys []string
	for _, g := range m.ref.st.grants {
		if g.person == personID {
			keys = append(keys, g.key)
		}
	}
	for _, g := range m.ref.st.guests {
		if g.guest == personID {
			keys = append(keys, g.key)
		}
	}
	return keys
}

func (m *modelRun) actPresentCard(t *rapid.T) {
	var ids []string
	for _, c := range m.ref.st.cards {
		ids = append(ids, c.id)
	}
	card := m.choose(t, "card", ids, append(append([]string(nil), modelCardIDs...), "0badcafe"))
	var keys []string
	if c := m.ref.st.card(card); c != nil {
		keys = m.keysOf(c.owner)
	}
	m.present(t, m.door(t, keys...), refPresentation{kind: hub.CredKeycard, cardID: card}, "keycard "+card, true)
}

func (m *modelRun) actPresentPhone(t *rapid.T) {
	i := rapid.IntRange(0, len(modelPhones)-1).Draw(t, "phone")
	var keys []string
	if len(m.ref.st.devices) > 0 && rapid.IntRange(0, 3).Draw(t, "registered_phone") > 0 {
		dev := rapid.SampledFrom(m.ref.st.devices).Draw(t, "device")
		i = modelPhoneIndex(dev.pub)
		keys = m.keysOf(dev.owner)
	}
	door := m.door(t, keys...)
	nonce := rapid.SliceOfN(rapid.Byte(), 8, 16).Draw(t, "nonce")
	priv := modelPhones[i]
	msgDoor, msgNonce, how := door, nonce, "valid"
	switch rapid.IntRange(0, 7).Draw(t, "signature") {
	case 0:
		msgDoor, how = rapid.SampledFrom(modelDoorIDs).Draw(t, "signed_door"), "signed for another door"
	case 1:
		msgNonce, how = append([]byte{1}, nonce...), "signed another nonce"
	case 2:
		priv, how = modelPhones[(i+1)%len(modelPhones)], "signed by another phone"
	}
	sig := ed25519.Sign(priv, append([]byte("doorhub-mobile-v1\x00"+msgDoor+"\x00"), msgNonce...))
	if msgDoor == door && how == "signed for another door" {
		how = "valid"
	}
	if rapid.IntRange(0, 15).Draw(t, "garbage") == 0 {
		sig, how = sig[:10], "truncated signature"
	}
	m.present(t, door, refPresentation{kind: hub.CredMobile,
		pub: modelPhones[i].Public().(ed25519.PublicKey), nonce: nonce, sig: sig},
		fmt.Sprintf("phone#%d (%s)", i, how), true)
}

// actPresentDaily types a daily code: someone's code at this door today,
// or for another door, another day or another re-roll.
func (m *modelRun) actPresentDaily(t *rapid.T) {
	var coders []string
	for _, g := range m.ref.st.grants {
		if g.method == hub.MethodDoorcode && !refHas(coders, g.person) {
			coders = append(coders, g.person)
		}
	}
	pid := m.choose(t, "typist", coders, m.people)
	var reroll uint32
	if p := m.ref.st.person(pid); p != nil {
		reroll = p.reroll
	}
	door := m.door(t, m.keysOf(pid)...)
	codeDoor := door
	if rapid.IntRange(0, 5).Draw(t, "other_door") == 0 {
		codeDoor = rapid.SampledFrom(modelDoorIDs).Draw(t, "code_door")
	}
	day := rapid.SampledFrom([]int{0, 0, 0, 0, -1, 1}).Draw(t, "code_day")
	switch rapid.IntRange(0, 7).Draw(t, "code_reroll") {
	case 0:
		reroll++
	case 1:
		if reroll > 0 {
			reroll--
		}
	}
	date := m.midnight(day).Format("2006-01-02")
	code := m.dailyCode(pid, codeDoor, date, reroll)
	m.present(t, door, refPresentation{kind: hub.CredDoorcode, code: code},
		fmt.Sprintf("doorcode %s (daily code of %s at %s on %s, re-roll %d)", code, pid, codeDoor, date, reroll), true)
}

// actPresentCode types a guest or tour code, or random digits.
func (m *modelRun) actPresentCode(t *rapid.T) {
	type known struct {
		digits string
		keys   []string
	}
	var all []known
	for _, c := range m.ref.st.codes {
		all = append(all, known{c.digits, []string{c.key}})
	}
	for _, tr := range m.ref.st.tours {
		all = append(all, known{tr.digits, tr.keys})
	}
	code, keys := "", []string(nil)
	if len(all) > 0 && rapid.IntRange(0, 4).Draw(t, "known_code") > 0 {
		k := rapid.SampledFrom(all).Draw(t, "code")
		code, keys = k.digits, k.keys
	} else {
		code = m.digits(t, "random_code", m.ref.st.site.length)
	}
	m.present(t, m.door(t, keys...), refPresentation{kind: hub.CredDoorcode, code: code}, "doorcode "+code, true)
}

// actWrongCodes types wrong codes in quick succession at one door.
func (m *modelRun) actWrongCodes(t *rapid.T) {
	door := m.door(t)
	n := rapid.IntRange(1, 6).Draw(t, "wrong_codes")
	for i := 0; i < n; i++ {
		code := m.digits(t, "wrong_code", m.ref.st.site.length)
		m.present(t, door, refPresentation{kind: hub.CredDoorcode, code: code}, "doorcode "+code, true)
		if step := rapid.SampledFrom([]time.Duration{0, time.Nanosecond, time.Second, 10 * time.Second, 29 * time.Second}).Draw(t, "pause"); step > 0 {
			m.now = m.now.Add(step)
			m.logf("  %s later: %s", step, modelT(m.now))
		}
	}
}

// present decides at the engine and at the reference and compares.
func (m *modelRun) present(t *rapid.T, door string, p refPresentation, what string, logIt bool) {
	now := hub.Now{Time: m.now, Trusted: m.trusted}
	got := m.eng.Decide(door, hub.Presentation{Kind: p.kind, CardID: p.cardID, Code: p.code,
		PublicKey: p.pub, Nonce: p.nonce, Signature: p.sig}, now)
	want := m.ref.decide(door, p, m.now, m.trusted)
	diffs := modelDiff(got, want, door, p, now, logIt)
	if logIt || len(diffs) > 0 {
		m.logf("present %s at %s → %s", what, door, modelFmtDecision(got))
	}
	if len(diffs) > 0 {
		m.fatalf(t, "decision of %s at %s at %s (trusted=%t) disagrees with the reference:\n  %s",
			what, door, modelT(m.now), m.trusted, strings.Join(diffs, "\n  "))
	}
	if !logIt {
		return // a sweep
	}
	m.stats.add(fmt.Sprintf("%-8s %s", p.kind, got.Reason))
	if got.Visibility == hub.IdentityRemoved {
		m.stats.add("visibility identity_removed")
	}
	if got.Alarm != "" {
		m.stats.add("alarm " + string(got.Alarm))
	}
	if len(got.Colliding) >= 2 {
		m.stats.add("collision between two people")
	}
	if got.FirstUse {
		m.stats.add("first use of a fifteen-minute code")
	}
}

func modelDiff(got hub.Decision, want refDecision, door string, p refPresentation, now hub.Now, leaks bool) []string {
	var d []string
	str := func(field, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s: engine %q, reference %q", field, g, w))
		}
	}
	boolean := func(field string, g, w bool) {
		if g != w {
			d = append(d, fmt.Sprintf("%s: engine %t, reference %t", field, g, w))
		}
	}
	str("Door", got.Door, door)
	str("Kind", string(got.Kind), string(p.kind))
	if !got.At.Equal(now.Time) {
		str("At", modelT(got.At), modelT(now.Time))
	}
	boolean("ClockTrusted", got.ClockTrusted, now.Trusted)
	str("Reason", string(got.Reason), string(want.Reason))
	boolean("Allowed", got.Allowed, want.Allowed)
	boolean("Reason.Allowed()", got.Reason.Allowed(), got.Allowed)
	str("Visibility", string(got.Visibility), string(want.Visibility))
	str("Alarm", string(got.Alarm), string(want.Alarm))
	gc := append([]string(nil), got.Colliding...)
	sort.Strings(gc)
	str("Colliding", strings.Join(gc, ","), strings.Join(want.Colliding, ","))
	str("Subject", string(got.Subject), string(want.Subject))
	str("PersonID", got.PersonID, want.PersonID)
	str("GuestCodeID", got.GuestCodeID, want.GuestCodeID)
	str("TourID", got.TourID, want.TourID)
	boolean("FirstUse", got.FirstUse, want.FirstUse)
	if want.Allowed {
		str("GrantID", got.GrantID, want.GrantID)
		str("GuestGrant", got.GuestGrant, want.GuestGrant)
	}
	if want.Allowed || want.GuestCodeID != "" {
		str("HostID", got.HostID, want.HostID)
	}
	if leaks {
		// No credential secret in a decision.
		got.At = time.Time{}
		js, _ := json.Marshal(got)
		for _, secret := range []string{p.cardID, p.code} {
			if secret != "" && strings.Contains(string(js), secret) {
				d = append(d, "the decision carries the credential secret: "+string(js))
			}
		}
	}
	return d
}

func modelFmtDecision(d hub.Decision) string {
	var b strings.Builder
	b.WriteString(string(d.Reason))
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("vis", string(d.Visibility))
	add("subject", string(d.Subject))
	add("person", d.PersonID)
	add("host", d.HostID)
	add("grant", d.GrantID)
	add("guest_grant", d.GuestGrant)
	add("guest_code", d.GuestCodeID)
	add("tour", d.TourID)
	add("alarm", string(d.Alarm))
	if len(d.Colliding) > 0 {
		add("colliding", strings.Join(d.Colliding, ","))
	}
	if d.FirstUse {
		add("first_use", "true")
	}
	return b.String()
}

func modelFmtOp(o hub.Op) string {
	switch o.Type {
	case hub.OpPutSite:
		return fmt.Sprintf("put_site %s tz=%s length=%d", o.Site.ID, o.Site.TimeZone, o.Site.DoorcodeLength)
	case hub.OpPutDoor:
		return fmt.Sprintf("put_door %s %s", o.Door.ID, o.Door.Type)
	case hub.OpPutKey:
		return fmt.Sprintf("put_key %s doors=%v doorcodes=%t sharing=%t", o.Key.ID, o.Key.Doors,
			o.Key.DoorcodesAllowed, o.Key.MayShareAllowed)
	case hub.OpPutPerson:
		return fmt.Sprintf("put_person %s <%s> manager=%t reroll=%d", o.Person.ID, o.Person.Email,
			o.Person.Manager, o.Person.Reroll)
	case hub.OpPutGrant:
		g := o.Grant
		return fmt.Sprintf("put_grant %s person=%s key=%s method=%s resident=%t may_share=%t %s",
			g.ID, g.PersonID, g.KeyID, g.Method, g.Resident, g.MayShare, modelWindow(g.StartsAt, g.Expires))
	case hub.OpPutGuestGrant:
		g := o.GuestGrant
		who := "guest=" + g.GuestID
		if g.Service != "" {
			who = fmt.Sprintf("service=%q", g.Service)
		}
		when := "permanent"
		if !g.Permanent {
			when = modelWindow(g.StartsAt, g.Expires)
		}
		return fmt.Sprintf("put_guest_grant %s host=%s key=%s %s %s", g.ID, g.HostID, g.KeyID, who, when)
	case hub.OpPutKeycard:
		return fmt.Sprintf("put_keycard %s owner=%s active=%t", o.Keycard.CardID, o.Keycard.OwnerID, o.Keycard.Active)
	case hub.OpPutDevice:
		return fmt.Sprintf("put_device %s owner=%s phone#%d", o.Device.ID, o.Device.OwnerID, modelPhoneIndex(o.Device.PublicKey))
	case hub.OpPutGuestCode:
		c := o.GuestCode
		when := c.Date
		if c.Kind == hub.CodeFifteenMinute {
			when = "first use in " + modelWindow(c.StartsAt, c.Expires)
		}
		return fmt.Sprintf("put_guest_code %s host=%s key=%s %s code=%s %s", c.ID, c.HostID, c.KeyID, c.Kind, c.Code, when)
	case hub.OpPutTour:
		tr := o.Tour
		return fmt.Sprintf("put_tour %s integration=%s code=%s keys=%v %s", tr.ID, tr.Integration, tr.Code,
			tr.Keys, modelWindow(tr.StartsAt, &tr.EndsAt))
	case hub.OpPutAllowlist:
		return fmt.Sprintf("put_allowlist %s keys=%v", o.Allowlist.Integration, o.Allowlist.Keys)
	}
	return fmt.Sprintf("%s %s", o.Type, o.ID)
}
