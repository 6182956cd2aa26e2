package controlplane

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub/config"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestServerKeepsStateAndAnswersErrors: the API behind its token, errors
// with their statuses, a hub config that doorhubd accepts, and the state,
// signing key and hubs kept across a restart.
func TestServerKeepsStateAndAnswersErrors(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	dir := t.TempDir()
	if _, err := Open(Options{StateDir: dir, Listen: "0.0.0.0:0", Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("a non-loopback API: %v", err)
	}
	s, err := Open(Options{StateDir: dir, Broker: b.URL(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	pub := s.PublicKey()
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var r console.Result
	if err := c.Call(ctx, "site/create", console.SiteCreate{Name: "Elm", TimeZone: "UTC", DoorcodeLength: 6}, &r); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "door/add", console.DoorAdd{Name: "front", Type: "entrance"}, &r); err != nil {
		t.Fatal(err)
	}
	err = c.Call(ctx, "key/create", console.KeyCreate{Name: "Building", Doors: []string{"nope"}}, &r)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !strings.Contains(ae.Message, `door "nope"`) {
		t.Fatalf("unknown door: %v", err)
	}
	err = c.Call(ctx, "import", console.Import{CSV: "email,keys\nbad,Building\n"}, &r)
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Lines) != 1 || ae.Lines[0].Line != 2 {
		t.Fatalf("bad import: %+v", err)
	}
	var hc HubConfig
	if err := c.Call(ctx, "hub/add", HubAdd{ID: "hub-1", StateDir: "/var/lib/doorhub"}, &hc); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "doorhub.yaml")
	if err := os.WriteFile(path, []byte(hc.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil || cfg.Cloud.PublicKey != pub || cfg.Cloud.Broker != b.URL() || cfg.HubID != "hub-1" {
		t.Fatalf("hub config %+v, %v:\n%s", cfg.Cloud, err, hc.Config)
	}
	bad := &Client{Base: c.Base, Token: "wrong", HTTP: http.DefaultClient}
	if err := bad.Call(ctx, "site", struct{}{}, nil); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(dir); !errors.Is(err, ErrNotServing) {
		t.Fatalf("dial a stopped server: %v", err)
	}

	s, err = Open(Options{StateDir: dir, Broker: b.URL(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.PublicKey() != pub {
		t.Fatal("the signing key changed across a restart")
	}
	c, _ = Dial(dir)
	var site console.SiteView
	if err := c.Call(ctx, "site", struct{}{}, &site); err != nil || site.ID != "elm" || site.Version != 2 {
		t.Fatalf("site after restart %+v, %v", site, err)
	}
	var hubs []HubView
	if err := c.Call(ctx, "hubs", struct{}{}, &hubs); err != nil || len(hubs) != 1 || hubs[0].ID != "hub-1" {
		t.Fatalf("hubs after restart %+v, %v", hubs, err)
	}
}

// TestSeveralSites: a second site gets a database of its own; requests
// name their site once there are several; hubs belong to one site; all
// of it survives a restart.
func TestSeveralSites(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	dir := t.TempDir()
	s, err := Open(Options{StateDir: dir, Broker: b.URL(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, _ := Dial(dir)
	for _, name := range []string{"Elm", "Oak"} {
		if err := c.Call(ctx, "site/create", console.SiteCreate{Name: name, TimeZone: "UTC", DoorcodeLength: 6}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Call(ctx, "site/create", console.SiteCreate{Name: "oak", TimeZone: "UTC"}, nil); err == nil {
		t.Fatal("a second site named oak")
	}
	var ae *APIError
	if err := c.Call(ctx, "door/add", console.DoorAdd{Name: "Front", Type: "entrance"}, nil); !errors.As(err, &ae) ||
		!strings.Contains(ae.Message, "name one with --site") {
		t.Fatalf("a request without a site: %v", err)
	}
	for _, site := range []string{"elm", "oak"} {
		c.Site = site
		if err := c.Call(ctx, "door/add", console.DoorAdd{Name: "Front " + site, Type: "entrance"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(ctx, "hub/add", HubAdd{ID: "hub-" + site}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Site = "oak"
	if err := c.Call(ctx, "hub/add", HubAdd{ID: "hub-elm"}, nil); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("a hub of another site: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{StateDir: dir, Broker: b.URL(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ = Dial(dir)
	var sites []console.SiteView
	if err := c.Call(ctx, "sites", struct{}{}, &sites); err != nil || len(sites) != 2 {
		t.Fatalf("sites after a restart: %+v %v", sites, err)
	}
	c.Site = "oak"
	var hubs []HubView
	if err := c.Call(ctx, "hubs", struct{}{}, &hubs); err != nil || len(hubs) != 1 || hubs[0].ID != "hub-oak" || hubs[0].Version != 2 {
		t.Fatalf("oak's hubs: %+v %v", hubs, err)
	}
	var dc console.DoorcodeView
	if err := c.Call(ctx, "doorcode", console.DoorcodeRequest{Email: "x@example.com", Door: "front-elm"}, &dc); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("elm's door asked of oak: %v", err)
	}
}
