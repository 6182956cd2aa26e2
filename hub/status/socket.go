package status

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultSocketGroup is the group the unix socket is given when it exists
// (the package's doorhub group: technicians added to it reach the
// endpoint without sudo).
const DefaultSocketGroup = "doorhub"

// Peer is the process at the other end of a unix socket connection, as the
// kernel says (SO_PEERCRED).
type Peer struct {
	PID      int32
	UID, GID uint32
}

type peerKey struct{}

// socketAccess decides who may use the unix socket: root, the daemon's
// own user, and members of the socket's group. The file's mode (0660)
// already says so; the check holds even if the mode or the directory's is
// loosened by hand.
type socketAccess struct {
	gid uint32
	log *slog.Logger

	mu     sync.Mutex
	logged time.Time
}

// setUpSocket gives the socket its group (when the group exists and the
// daemon may) and mode 0660 — and its directory too when the daemon made
// it (systemd's RuntimeDirectory= is already right) — and returns the
// access rule.
func (s *Server) setUpSocket(path, group string, madeDir bool) *socketAccess {
	if group == "" {
		group = DefaultSocketGroup
	}
	if g, err := user.LookupGroup(group); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			if err := os.Chown(path, -1, gid); err != nil {
				s.log.Warn("status socket not given its group", slog.String("socket", path), slog.String("group", group), slog.Any("err", err))
			}
			if madeDir {
				_ = os.Chown(filepath.Dir(path), -1, gid)
			}
		}
	}
	_ = os.Chmod(path, 0o660)
	a := &socketAccess{gid: uint32(os.Getgid()), log: s.log}
	if gid, ok := fileGID(path); ok {
		a.gid = gid
	}
	return a
}

// allowed says whether a peer may use the endpoint, and if not why.
func (a *socketAccess) allowed(p Peer) error {
	if p.UID == 0 || p.UID == uint32(os.Getuid()) || p.GID == a.gid {
		return nil
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10)); err == nil {
		if ids, err := u.GroupIds(); err == nil && slices.Contains(ids, strconv.FormatUint(uint64(a.gid), 10)) {
			return nil
		}
	}
	name := strconv.FormatUint(uint64(a.gid), 10)
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	return fmt.Errorf("uid %d is neither root nor in group %s", p.UID, name)
}

// guard refuses a request over the unix socket from a peer not allowed
// (403); requests over TCP pass (the token guards them).
func (a *socketAccess) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(peerKey{}).(Peer); ok {
			if err := a.allowed(p); err != nil {
				a.mu.Lock()
				if time.Since(a.logged) > time.Minute {
					a.logged = time.Now()
					a.log.Warn("status socket: request refused", slog.Int("pid", int(p.PID)), slog.Any("err", err))
				}
				a.mu.Unlock()
				writeError(w, http.StatusForbidden, "the status socket: "+err.Error())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// connContext records the peer of a unix socket connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	if p, ok := peerOf(uc); ok {
		return context.WithValue(ctx, peerKey{}, p)
	}
	return ctx
}
