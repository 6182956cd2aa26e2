package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/hub/status"
)

type pairer struct{ got status.PairRequest }

func (p *pairer) Pair(_ context.Context, r status.PairRequest) (status.PairResult, error) {
	if r.Door == "" {
		return status.PairResult{}, fmt.Errorf("%w: door required", status.ErrInvalid)
	}
	p.got = r
	return status.PairResult{Lock: r.Lock, Door: r.Door, New: true}, nil
}

func TestEndpoint(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	radioUp := errors.New("radio not connected")
	p := &pairer{}
	s, err := status.Open(status.Options{Listen: "127.0.0.1:0", Socket: filepath.Join(dir, "s.sock"), TokenFile: token,
		Checks: map[string]func() error{"store": func() error { return nil }, "radio": func() error { return radioUp }},
		Pairer: p, Doors: func() []status.Door { return []status.Door{{Door: "lobby", Lock: "0000a1b2"}} },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	base := "http://" + s.Addr()
	do := func(c *http.Client, method, path, tok, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	c := http.DefaultClient
	if code, _ := do(c, "GET", "/livez", "", ""); code != 200 {
		t.Errorf("livez %d", code)
	}
	if code, body := do(c, "GET", "/readyz", "", ""); code != 503 || !strings.Contains(body, "radio not connected") {
		t.Errorf("readyz %d %s", code, body)
	}
	radioUp = nil
	if code, body := do(c, "GET", "/readyz?verbose", "", ""); code != 200 || !strings.Contains(body, `"radio":"ok"`) {
		t.Errorf("readyz %d %s", code, body)
	}
	if code, _ := do(c, "GET", "/api/v1/doors", "", ""); code != 401 {
		t.Errorf("doors without token: %d", code)
	}
	if code, _ := do(c, "GET", "/api/v1/doors", "wrong", ""); code != 401 {
		t.Errorf("doors with a wrong token: %d", code)
	}
	code, body := do(c, "GET", "/api/v1/doors", "s3cret", "")
	var doors struct{ Doors []status.Door }
	if code != 200 || json.Unmarshal([]byte(body), &doors) != nil || len(doors.Doors) != 1 {
		t.Errorf("doors %d %s", code, body)
	}
	if code, body := do(c, "POST", "/api/v1/pair", "s3cret", `{"lock":"a1b2","key":"00","door":""}`); code != 400 {
		t.Errorf("bad pair %d %s", code, body)
	}
	if code, _ := do(c, "POST", "/api/v1/pair", "s3cret", `{"lock":"a1b2","nonsense":1}`); code != 400 {
		t.Errorf("unknown field %d", code)
	}
	// The unix socket serves the same API.
	uc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dir, "s.sock"))
	}}}
	if code, body := do(uc, "POST", "/api/v1/pair", "s3cret", `{"lock":"a1b2","key":"k","door":"lobby"}`); code != 200 || p.got.Door != "lobby" {
		t.Errorf("pair over the socket %d %s", code, body)
	}
}

func TestNoTokenFileNoAPI(t *testing.T) {
	s, err := status.Open(status.Options{Listen: "127.0.0.1:0", TokenFile: filepath.Join(t.TempDir(), "missing"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	resp, err := http.Get("http://" + s.Addr() + "/api/v1/doors")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("API without a token file: %d", resp.StatusCode)
	}
}
