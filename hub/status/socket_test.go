package status_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/doorhub/doorhub/hub/status"
)

// socketGet asks the endpoint over a unix socket and returns the status
// code and body.
func socketGet(path, url string) (int, string, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := c.Get("http://doorhubd" + url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// socketServer serves on a socket in a directory others may enter, with
// the socket given to group.
func socketServer(t *testing.T, group string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "doorhub-socket-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "doorhub.sock")
	s, err := status.Open(status.Options{Socket: sock, SocketGroup: group, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return sock
}

// TestSocketGroupAndMode: the socket is mode 0660 and belongs to the
// configured group when it exists; root reaches it.
func TestSocketGroupAndMode(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("giving the socket another group needs root")
	}
	g, err := user.LookupGroup("daemon")
	if err != nil {
		t.Skip("no group daemon here")
	}
	sock := socketServer(t, "daemon")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fmt.Sprint(fi.Sys().(*syscall.Stat_t).Gid) != g.Gid {
		t.Errorf("socket mode %v, gid %d; want 0660 and %s", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid, g.Gid)
	}
	if code, body, err := socketGet(sock, "/livez"); err != nil || code != 200 {
		t.Errorf("root: %d %s %v", code, body, err)
	}
	// A directory the daemon makes for the socket gets the group too.
	made := filepath.Join(filepath.Dir(sock), "run", "doorhub")
	s, err := status.Open(status.Options{Socket: filepath.Join(made, "doorhub.sock"), SocketGroup: "daemon",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if fi, err := os.Stat(made); err != nil || fi.Mode().Perm() != 0o750 || fmt.Sprint(fi.Sys().(*syscall.Stat_t).Gid) != g.Gid {
		t.Errorf("the socket's directory: %v %v", fi.Mode(), err)
	}
	// A group that does not exist leaves the daemon's own group.
	sock = socketServer(t, "no-such-group-doorhub")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != uint32(os.Getgid()) {
		t.Errorf("without the group: %v %v", fi.Mode(), err)
	}
}

// TestSocketRefusesAPeerOutsideTheGroup: with the socket's mode loosened
// by hand, a user who is neither root nor in its group is still refused
// (SO_PEERCRED), with a message saying why.
func TestSocketRefusesAPeerOutsideTheGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("running a client as another user needs root")
	}
	if _, err := user.LookupGroup("daemon"); err != nil {
		t.Skip("no group daemon here")
	}
	sock := socketServer(t, "daemon")
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	// This test binary, where user nobody may run it, asks as nobody.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(sock), "client")
	if err := os.WriteFile(helper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helper, "-test.run=^TestSocketClientHelper$")
	cmd.Env = append(os.Environ(), "DOORHUB_SOCKET_HELPER="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v %s", err, out)
	}
	if !strings.Contains(string(out), "code 403") || !strings.Contains(string(out), "neither root nor in group daemon") {
		t.Errorf("nobody got: %s", out)
	}
	// A member of the group (nobody, with group daemon) is served.
	g, _ := user.LookupGroup("daemon")
	gid, _ := strconv.Atoi(g.Gid)
	cmd = exec.Command(helper, "-test.run=^TestSocketClientHelper$")
	cmd.Env = append(os.Environ(), "DOORHUB_SOCKET_HELPER="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "code 200") {
		t.Errorf("a member of the group: %v %s", err, out)
	}
	// Root, through the same socket, is served.
	if code, body, err := socketGet(sock, "/livez"); err != nil || code != 200 {
		t.Errorf("root: %d %s %v", code, body, err)
	}
}

// TestSocketClientHelper is the client TestSocketRefusesAPeerOutsideTheGroup
// runs as another user.
func TestSocketClientHelper(t *testing.T) {
	sock := os.Getenv("DOORHUB_SOCKET_HELPER")
	if sock == "" {
		t.Skip("a helper of TestSocketRefusesAPeerOutsideTheGroup")
	}
	code, body, err := socketGet(sock, "/livez")
	fmt.Printf("uid %s code %d %s %v\n", strconv.Itoa(os.Getuid()), code, body, err)
}
