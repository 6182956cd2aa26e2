package sim

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

// DefaultControl is the control socket of doorhub-sim when --control is
// not given.
func DefaultControl() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "doorhub-sim.sock")
	}
	return filepath.Join(os.TempDir(), "doorhub-sim.sock")
}

// Request is one line a control client sends (JSON).
type Request struct {
	Verb string `json:"verb"` // present, challenge, fault, unplug, replug, isolate, hang, inject, labels
	Lock string `json:"lock,omitempty"`
	// present: one credential; phone fields in hex.
	Card      string `json:"card,omitempty"`
	Code      string `json:"code,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	Signature string `json:"signature,omitempty"`
	// isolate, hang.
	On bool `json:"on,omitempty"`
	// fault.
	Faults *Faults `json:"faults,omitempty"`
	// inject: replay or forge.
	What string `json:"what,omitempty"`
}

// Response is the line the simulator answers with.
type Response struct {
	Error  string          `json:"error,omitempty"`
	Result *Result         `json:"result,omitempty"`
	Door   string          `json:"door,omitempty"`
	Nonce  string          `json:"nonce,omitempty"`
	Labels []lockmsg.Label `json:"labels,omitempty"`
	Device string          `json:"device,omitempty"`
	Faults *Faults         `json:"faults,omitempty"`
}

// Control serves the control socket of a running simulator.
type Control struct {
	sim  *Sim
	plug *Plug
	ln   net.Listener
	wg   sync.WaitGroup
}

// ServeControl listens on the unix socket at path (replacing a stale one)
// and serves requests until Close.
func ServeControl(s *Sim, plug *Plug, path string) (*Control, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("sim: %s: another simulator is serving there", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("sim: control socket: %w", err)
	}
	c := &Control{sim: s, plug: plug, ln: ln}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Close stops serving and removes the socket.
func (c *Control) Close() {
	c.ln.Close()
	c.wg.Wait()
}

func (c *Control) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			sc := bufio.NewScanner(conn)
			if !sc.Scan() {
				return
			}
			var req Request
			resp := Response{}
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				resp.Error = "bad request: " + err.Error()
			} else {
				ctx, cancel := context.WithTimeout(c.sim.ctx, 20*time.Second)
				resp = c.do(ctx, req)
				cancel()
			}
			_ = json.NewEncoder(conn).Encode(resp)
		}()
	}
}

func (c *Control) do(ctx context.Context, req Request) Response {
	fail := func(err error) Response { return Response{Error: err.Error()} }
	lock := func() (*Lock, error) {
		id, err := lockmsg.ParseLockID(req.Lock)
		if err != nil {
			return nil, err
		}
		return c.sim.Lock(id)
	}
	switch req.Verb {
	case "labels":
		return Response{Labels: c.sim.Labels(), Device: c.plug.Device()}
	case "present":
		lk, err := lock()
		if err != nil {
			return fail(err)
		}
		cred, err := req.credential()
		if err != nil {
			return fail(err)
		}
		res, err := lk.Present(ctx, cred)
		if err != nil {
			return fail(err)
		}
		return Response{Result: &res}
	case "challenge":
		lk, err := lock()
		if err != nil {
			return fail(err)
		}
		door, nonce, err := lk.Challenge(ctx)
		if err != nil {
			return fail(err)
		}
		return Response{Door: door, Nonce: hex.EncodeToString(nonce)}
	case "fault":
		if req.Faults != nil {
			c.sim.SetFaults(*req.Faults)
		}
		f := c.sim.Faults()
		return Response{Faults: &f}
	case "unplug":
		c.plug.Unplug()
		return Response{}
	case "replug":
		if err := c.plug.Replug(); err != nil {
			return fail(err)
		}
		return Response{Device: c.plug.Device()}
	case "isolate":
		lk, err := lock()
		if err != nil {
			return fail(err)
		}
		lk.Isolate(req.On)
		return Response{}
	case "hang":
		c.sim.Hang(req.On)
		return Response{}
	case "inject":
		lk, err := lock()
		if err != nil {
			return fail(err)
		}
		if err := lk.Inject(ctx, req.What); err != nil {
			return fail(err)
		}
		return Response{}
	}
	return fail(fmt.Errorf("unknown verb %q", req.Verb))
}

func (req Request) credential() (Credential, error) {
	unhex := func(what, s string) ([]byte, error) {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: not hex", what)
		}
		return b, nil
	}
	var c Credential
	var err error
	switch {
	case req.Card != "":
		c.Card, err = unhex("card", req.Card)
	case req.Code != "":
		c.Code = req.Code
	case req.PublicKey != "":
		if c.PublicKey, err = unhex("public key", req.PublicKey); err != nil {
			return c, err
		}
		if c.Nonce, err = unhex("nonce", req.Nonce); err != nil {
			return c, err
		}
		c.Signature, err = unhex("signature", req.Signature)
	default:
		err = errors.New("present a card, a code or a phone")
	}
	return c, err
}

// Call sends one request to the simulator serving at the control socket.
func Call(ctx context.Context, socket string, req Request) (Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return Response{}, fmt.Errorf("no simulator at %s (is `doorhub-sim serve` running?): %w", socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("simulator at %s: %w", socket, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
