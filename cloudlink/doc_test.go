package cloudlink_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
)

// The protocol document's examples, topic table and test vector are
// generated here and checked against the document; `go test ./cloudlink
// -run TestProtocolDoc -update` rewrites them.
var update = flag.Bool("update", false, "rewrite the generated blocks of "+protocolDoc)

const protocolDoc = "../docs/cloud-protocol.md"

// vectorExample names the example that is also the test vector.
const vectorExample = "unlock"

// generatedBlocks returns the text of every generated block by name.
func generatedBlocks(t *testing.T) map[string]string {
	blocks := map[string]string{}
	fence := func(lang, s string) string { return "```" + lang + "\n" + s + "\n```" }
	for _, ex := range examples(t) {
		out := encodeExample(t, ex)
		var ind bytes.Buffer
		if err := json.Indent(&ind, out.Payload, "", "  "); err != nil {
			t.Fatal(err)
		}
		blocks["example "+ex.name] = fence("json", ind.String())
		if ex.name != vectorExample {
			continue
		}
		var env struct {
			Type      cloudlink.Type
			Hub, ID   string
			IssuedAt  string `json:"issued_at"`
			ExpiresAt string `json:"expires_at"`
			Body      json.RawMessage
			Sig       string
		}
		if err := json.Unmarshal(out.Payload, &env); err != nil {
			t.Fatal(err)
		}
		signing := cloudlink.SigningBytes(env.Type, env.Hub, out.Topic, env.ID, env.IssuedAt, env.ExpiresAt, env.Body)
		blocks["vector"] = fence("text", strings.Join([]string{
			"seed (hex)        " + hex.EncodeToString(testSeed),
			"public key (b64)  " + base64.StdEncoding.EncodeToString(testPublic),
			"public key (hex)  " + hex.EncodeToString(testPublic),
			"topic             " + out.Topic,
			fmt.Sprintf("signing input     %d bytes, SHA-256 %x", len(signing), sha256Sum(signing)),
			"signature (b64)   " + env.Sig,
		}, "\n"))
		blocks["vector signing input"] = fence("text", string(signing))
		blocks["vector payload"] = fence("json", string(out.Payload))
	}
	var tb strings.Builder
	tb.WriteString("| topic (after `doorhub/v1/hubs/{hub_id}/`) | direction | types | QoS | retained |\n")
	tb.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, c := range cloudlink.Channels() {
		var ts []string
		for _, typ := range cloudlink.Types() {
			if typ.Channel() == c {
				ts = append(ts, "`"+string(typ)+"`")
			}
		}
		dir := "hub → cloud"
		if c.Downlink() {
			dir = "cloud → hub, signed"
		}
		ret := "no"
		if c.Retained() {
			ret = "yes"
		}
		fmt.Fprintf(&tb, "| `%s` | %s | %s | %d | %s |\n", c, dir, strings.Join(ts, ", "), c.QoS(), ret)
	}
	blocks["topics"] = strings.TrimSuffix(tb.String(), "\n")
	var lt strings.Builder
	lt.WriteString("| type | default lifetime | longest accepted | id remembered until expiry |\n")
	lt.WriteString("| --- | --- | --- | --- |\n")
	for _, typ := range cloudlink.Types() {
		if !typ.Downlink() {
			continue
		}
		rem := "no (ordered by version)"
		if typ.Remembered() {
			rem = "yes"
		}
		fmt.Fprintf(&lt, "| `%s` | %s | %s | %s |\n", typ, duration(typ.DefaultLifetime()), duration(typ.MaxLifetime()), rem)
	}
	blocks["lifetimes"] = strings.TrimSuffix(lt.String(), "\n")
	return blocks
}

func duration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d s", d/time.Second)
}

var blockRE = regexp.MustCompile(`(?s)<!-- BEGIN generated: ([a-z_ ]+) -->\n(.*?)\n<!-- END generated: ([a-z_ ]+) -->`)

// TestProtocolDoc checks that the document shows exactly the generated
// examples, tables and test vector, and that every example, read back
// from the document as a reader would, verifies and decodes.
func TestProtocolDoc(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	want := generatedBlocks(t)
	found := map[string]bool{}
	var stale []string
	newDoc := blockRE.ReplaceAllStringFunc(string(doc), func(m string) string {
		sub := blockRE.FindStringSubmatch(m)
		name, got := sub[1], sub[2]
		if sub[3] != name {
			t.Errorf("block %q ends as %q", name, sub[3])
			return m
		}
		if found[name] {
			t.Errorf("block %q appears twice", name)
		}
		found[name] = true
		w, ok := want[name]
		if !ok {
			t.Errorf("the document has a generated block %q that the test does not make", name)
			return m
		}
		if got != w {
			stale = append(stale, name)
		}
		return "<!-- BEGIN generated: " + name + " -->\n" + w + "\n<!-- END generated: " + name + " -->"
	})
	for name := range want {
		if !found[name] {
			t.Errorf("the document lacks the generated block %q", name)
		}
	}
	if *update {
		if newDoc != string(doc) {
			if err := os.WriteFile(protocolDoc, []byte(newDoc), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s: %v", protocolDoc, stale)
		}
	} else if len(stale) > 0 {
		t.Errorf("%s is stale in %v; run go test ./cloudlink -run TestProtocolDoc -update", protocolDoc, stale)
	}

	// Read every example back from the document text.
	for _, sub := range blockRE.FindAllStringSubmatch(newDoc, -1) {
		name, ok := strings.CutPrefix(sub[1], "example ")
		if !ok {
			continue
		}
		js := strings.TrimSuffix(strings.TrimPrefix(sub[2], "```json\n"), "\n```")
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(js)); err != nil {
			t.Errorf("example %s: %v", name, err)
			continue
		}
		var probe struct{ Type cloudlink.Type }
		_ = json.Unmarshal(compact.Bytes(), &probe)
		topic := topicOf(testHub, probe.Type.Channel())
		if probe.Type.Downlink() {
			if _, err := newVerifier(t).Open(topic, compact.Bytes(), trustedAt(t0)); err != nil {
				t.Errorf("example %s from the document does not verify: %v", name, err)
			}
		} else if _, err := cloudlink.DecodeUplink(topic, compact.Bytes()); err != nil {
			t.Errorf("example %s from the document does not decode: %v", name, err)
		}
	}
}

var pythonRE = regexp.MustCompile("(?s)<!-- check: python -->\n```python\n(.*?)\n```")

// TestProtocolDocPython runs the document's Python signer, when Python and
// its cryptography package are at hand, and checks that it produces the
// test vector's payload byte for byte.
func TestProtocolDocPython(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	m := pythonRE.FindSubmatch(doc)
	if m == nil {
		t.Fatal("the document has no checked Python block")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if exec.Command(py, "-c", "import cryptography").Run() != nil {
		t.Skip("python3 lacks the cryptography package")
	}
	out, err := exec.Command(py, "-c", string(m[1])).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	want := generatedBlocks(t)["vector payload"]
	want = strings.TrimSuffix(strings.TrimPrefix(want, "```json\n"), "\n```")
	want += "\n" + cloudlink.CardRef([]byte("0123456789abcdef-site-secret"), "04a1b2c3d4e5f6")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("python prints\n%s\nthe vector and card_ref are\n%s", got, want)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
