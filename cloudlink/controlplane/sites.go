package controlplane

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// SitesDir holds the databases of the sites after the first (whose
// database is db/, beside the server's own values).
const SitesDir = "sites"

// SiteHeader names the site a request is for; it may be left out while
// the server holds one site.
const SiteHeader = "X-Doorhub-Site"

// site is one site's store and console.
type site struct {
	dir     string // "" for the primary database
	store   *badgerstore.Store
	console *console.Console
}

// id is the site's id, "" before site create.
func (st *site) id() string {
	var id string
	st.store.View(func(cat *hub.Catalog) {
		if s := cat.Site(); s != nil {
			id = s.ID
		}
	})
	return id
}

func (s *Server) newSite(dir string, store *badgerstore.Store) *site {
	st := &site{dir: dir, store: store}
	st.console = console.New(console.Options{Store: store, Values: store,
		Outbox: filepath.Join(s.opts.StateDir, OutboxDir), Now: s.opts.Now})
	st.console.OnCommit = s.publish
	st.console.CardPending = s.cardPending
	return st
}

// openSites opens the primary database and every other site's.
func (s *Server) openSites() error {
	bo := badgerstore.DefaultOptions()
	bo.Logger = s.opts.Logger
	var err error
	if s.store, err = badgerstore.Open(filepath.Join(s.opts.StateDir, DBDir), bo); err != nil {
		return err
	}
	s.primary = s.newSite("", s.store)
	s.Console = s.primary.console
	s.sites = []*site{s.primary}
	entries, _ := os.ReadDir(filepath.Join(s.opts.StateDir, SitesDir))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(s.opts.StateDir, SitesDir, e.Name())
		st, err := badgerstore.Open(filepath.Join(dir, DBDir), bo)
		if err != nil {
			s.closeSites()
			return fmt.Errorf("site %s: %w", e.Name(), err)
		}
		s.sites = append(s.sites, s.newSite(dir, st))
	}
	return nil
}

func (s *Server) closeSites() {
	for _, st := range s.sites {
		if err := st.store.Close(); err != nil {
			s.log.Warn("store close", "site", st.id(), "err", err)
		}
	}
}

// siteByID finds a created site by id.
func (s *Server) siteByID(id string) *site {
	s.mu.Lock()
	sites := append([]*site(nil), s.sites...)
	s.mu.Unlock()
	for _, st := range sites {
		if id != "" && st.id() == id {
			return st
		}
	}
	return nil
}

// siteFor picks the site a request is for: the one its header names, or
// the only one.
func (s *Server) siteFor(r *http.Request) (*site, error) {
	s.mu.Lock()
	sites := append([]*site(nil), s.sites...)
	s.mu.Unlock()
	name := strings.TrimSpace(r.Header.Get(SiteHeader))
	var ids []string
	for _, st := range sites {
		id := st.id()
		if name != "" && (id == name || id == strings.ToLower(strings.ReplaceAll(name, " ", "-"))) {
			return st, nil
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	switch {
	case name != "":
		return nil, fmt.Errorf("%w: site %q (sites: %s)", console.ErrNotFound, name, strings.Join(ids, ", "))
	case len(ids) > 1:
		return nil, fmt.Errorf("%w: this server holds several sites (%s): name one with --site", console.ErrInvalid, strings.Join(ids, ", "))
	}
	for _, st := range sites {
		if st.id() != "" {
			return st, nil
		}
	}
	return s.primary, nil
}

// createSite creates a site: in the primary database while it is empty,
// otherwise in a database of its own.
func (s *Server) createSite(r console.SiteCreate) (console.Result, error) {
	s.siteMu.Lock()
	defer s.siteMu.Unlock()
	s.mu.Lock()
	sites := append([]*site(nil), s.sites...)
	s.mu.Unlock()
	if s.primary.id() == "" {
		return s.primary.console.CreateSite(r)
	}
	dirName := strings.Trim(strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		if c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return '-'
	}, strings.TrimSpace(r.Name)), "-.")
	if dirName == "" {
		return console.Result{}, fmt.Errorf("%w: --name is required", console.ErrInvalid)
	}
	for _, st := range sites {
		if st.id() == dirName || st.dir != "" && filepath.Base(st.dir) == dirName {
			return console.Result{}, fmt.Errorf("%w: site %q already exists", console.ErrConflict, dirName)
		}
	}
	dir := filepath.Join(s.opts.StateDir, SitesDir, dirName)
	bo := badgerstore.DefaultOptions()
	bo.Logger = s.opts.Logger
	store, err := badgerstore.Open(filepath.Join(dir, DBDir), bo)
	if err != nil {
		return console.Result{}, err
	}
	st := s.newSite(dir, store)
	res, err := st.console.CreateSite(r)
	if err != nil {
		_ = store.Close()
		_ = os.RemoveAll(dir)
		return console.Result{}, err
	}
	s.mu.Lock()
	s.sites = append(s.sites, st)
	s.mu.Unlock()
	return res, nil
}
