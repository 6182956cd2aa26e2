package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Credential is what is presented at a lock: a keycard, keypad digits, or
// a phone's answer to the lock's challenge (see Challenge).
type Credential struct {
	Card      []byte
	Code      string
	PublicKey []byte
	Nonce     []byte
	Signature []byte
}

// Result is a lock's outcome of one presentation, as doorhub-sim present
// prints it.
type Result struct {
	Lock    string `json:"lock"`
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	// LatencyMS: from the request leaving the lock to the decision
	// arriving (or to the lock giving up and deciding alone).
	LatencyMS     float64 `json:"latency_ms"`
	UnlockSeconds int     `json:"unlock_seconds"`
	// Offline: the lock decided alone (isolated, or the hub did not
	// answer in time); it reports the decision once it reaches the hub.
	Offline bool `json:"offline,omitempty"`
}

// Lock is one simulated lock.
type Lock struct {
	sim     *Sim
	index   int
	id      lockmsg.LockID
	key     lockmsg.Key
	pairing *lockmsg.Pairing
	inbox   chan []byte
	poke    chan struct{}
	log     *slog.Logger

	mu          sync.Mutex
	door        string
	isolated    bool
	awakeUntil  time.Time
	helloAcked  bool
	bootReason  lockmsg.BootReason
	eventSeq    uint32
	pending     []lockmsg.OfflineDecision
	clockOffset time.Duration
	waiters     map[uint32]chan lockmsg.Message
	lastSealed  []byte
	lastFloor   time.Time
	nonce       []byte
	decided     int
	list        lockList
	// heldUntil: the door is held unlocked (a remote unlock) until then.
	heldUntil time.Time
}

func newLock(s *Sim, index int, id lockmsg.LockID, key lockmsg.Key) (*Lock, error) {
	p, err := lockmsg.NewPairing(id, key, lockmsg.RoleLock, &lockmsg.MemoryCounterStore{}, lockmsg.PairingOptions{})
	if err != nil {
		return nil, err
	}
	return &Lock{sim: s, index: index, id: id, key: key, pairing: p, inbox: make(chan []byte, 16),
		poke: make(chan struct{}, 1), log: s.log.With(slog.String("lock", id.Hex())),
		bootReason: lockmsg.BootPowerOn, waiters: map[uint32]chan lockmsg.Message{},
		list: lockList{capacity: lockCapacity}}, nil
}

// lockCapacity is the entries a simulated lock's list holds (its hello
// says so).
const lockCapacity = 1000

// ResetList forgets the lock's list, as a lock whose memory was wiped; its
// next status reports no list.
func (lk *Lock) ResetList() {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	lk.list.reset()
}

// OfflineMode returns the offline mode the lock's list carries (secure
// without a list).
func (lk *Lock) OfflineMode() hub.OfflineMode {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.list.offline()
}

// Unlocked reports whether the door is held unlocked now (a remote
// unlock whose time has not ended).
func (lk *Lock) Unlocked() bool {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return time.Now().Before(lk.heldUntil)
}

// hubLost is what the lock does when it finds it cannot reach the hub,
// by its door's offline mode (docs/door-lists.md, "Offline mode"):
// secure locks a door held unlocked at once; as-is leaves it as it is
// until its time ends. Called with lk.mu held.
func (lk *Lock) hubLost() {
	if lk.list.offline() != hub.OfflineAsIs {
		lk.heldUntil = time.Time{}
	}
}

// ListPartial returns the version of a list coming in chunk by chunk and
// the chunk the lock expects next; 0, 0 when none is under way.
func (lk *Lock) ListPartial() (version uint32, next uint16) {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.list.partVersion, lk.list.partNext
}

// ListChunks returns how many list chunks the lock has received, stored or
// not.
func (lk *Lock) ListChunks() int {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.list.chunks
}

// ListVersion returns the version and digest of the list the lock holds
// (zero: none).
func (lk *Lock) ListVersion() (uint32, [lockmsg.DigestSize]byte) {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.list.version, lk.list.digest
}

// ID returns the lock's radio id.
func (lk *Lock) ID() lockmsg.LockID { return lk.id }

// Door returns the door the hub assigned ("" before the hub told it).
func (lk *Lock) Door() string {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.door
}

// Isolated reports whether the hub is unreachable for the lock.
func (lk *Lock) Isolated() bool {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.isolated
}

// PendingEvents returns how many events the lock holds unacknowledged.
func (lk *Lock) PendingEvents() int {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return len(lk.pending)
}

// Isolate cuts the lock off the hub (on) or brings it back: while
// isolated its frames reach nobody and it decides alone; back, it says
// hello again and reports what it decided.
func (lk *Lock) Isolate(on bool) {
	lk.mu.Lock()
	was := lk.isolated
	lk.isolated = on
	if on {
		lk.hubLost()
	}
	if was && !on {
		lk.helloAcked, lk.bootReason = false, lockmsg.BootReconnect
	}
	lk.mu.Unlock()
	if was && !on {
		lk.wake()
	}
}

func (lk *Lock) wake() {
	select {
	case lk.poke <- struct{}{}:
	default:
	}
}

func (lk *Lock) awake() bool {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return time.Now().Before(lk.awakeUntil)
}

func (lk *Lock) stayAwake(d time.Duration) {
	lk.mu.Lock()
	if t := time.Now().Add(d); t.After(lk.awakeUntil) {
		lk.awakeUntil = t
	}
	lk.mu.Unlock()
}

func (lk *Lock) deliver(sealed []byte) {
	select {
	case lk.inbox <- sealed:
	default:
	}
}

// run is the lock's firmware loop: hello, then heartbeats; messages from
// the hub as they come.
func (lk *Lock) run() {
	defer lk.sim.wg.Done()
	ctx := lk.sim.ctx
	// Stagger the first hello so that N locks do not all speak at once.
	t := time.NewTimer(time.Duration(lk.index%50) * 20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case sealed := <-lk.inbox:
			lk.handle(ctx, sealed)
			continue
		case <-lk.poke:
		case <-t.C:
		}
		lk.checkIn(ctx)
		lk.mu.Lock()
		next := lk.sim.cfg.Heartbeat
		if !lk.helloAcked {
			next = lk.sim.cfg.HelloRetry
		}
		lk.mu.Unlock()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// checkIn sends a hello (until one was answered) or a heartbeat, then the
// events the hub has not acknowledged. It runs the lock's waits in a
// goroutine so that the lock's loop keeps handling what the hub sends.
func (lk *Lock) checkIn(ctx context.Context) {
	if lk.Isolated() {
		return
	}
	go func() {
		lk.mu.Lock()
		hello := !lk.helloAcked
		reason := lk.bootReason
		lk.mu.Unlock()
		st := lk.status()
		var m lockmsg.Message = &lockmsg.Heartbeat{Status: st}
		if hello {
			m = &lockmsg.Hello{Status: st, Reason: reason, RxFloor: lk.pairing.RxFloor(), ListCapacity: lockCapacity}
		}
		reply, err := lk.request(ctx, m)
		if err != nil {
			return
		}
		if ack, ok := reply.(*lockmsg.StatusAck); ok {
			lk.mu.Lock()
			lk.helloAcked = true
			lk.mu.Unlock()
			if ack.More {
				lk.stayAwake(2 * lk.sim.cfg.AwakeWindow)
			}
		}
		lk.sendPending(ctx)
	}()
}

func (lk *Lock) status() lockmsg.Status {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	door := lockmsg.DoorClosedLocked
	if time.Now().Before(lk.heldUntil) {
		door = lockmsg.DoorClosedUnlocked
	}
	return lockmsg.Status{
		Firmware: lockmsg.Firmware{Major: 1, Minor: 0, Patch: 0}, BatteryPercent: uint8(80 + lk.index%20),
		BatteryMillivolts: 6000, Door: door, RSSI: lockmsg.RSSI(-50 - lk.index%30),
		Clock: lockmsg.UnixTimeOf(time.Now().Add(lk.clockOffset)), ClockSet: true,
		PendingEvents: uint16(min(len(lk.pending), 65535)),
		ListVersion:   lk.list.version, ListDigest: lk.list.digest,
	}
}

// sendPending reports the decisions taken alone, up to 15 a message.
func (lk *Lock) sendPending(ctx context.Context) {
	lk.mu.Lock()
	n := min(len(lk.pending), lockmsg.MaxOfflineRecords)
	recs := append([]lockmsg.OfflineDecision(nil), lk.pending[:n]...)
	lk.mu.Unlock()
	if n == 0 {
		return
	}
	lk.stayAwake(lk.sim.cfg.AwakeWindow)
	_, _ = lk.seal(ctx, &lockmsg.OfflineEvents{Records: recs}, nil)
}

// seal seals m and sends it to the hub; a waiter, if given, hears the
// reply that names m's counter.
func (lk *Lock) seal(ctx context.Context, m lockmsg.Message, waiter chan lockmsg.Message) (uint32, error) {
	if lk.Isolated() {
		return 0, errors.New("isolated")
	}
	sealed, counter, err := lk.pairing.Seal(nil, m)
	if err != nil {
		return 0, err
	}
	lk.mu.Lock()
	if waiter != nil {
		lk.waiters[counter] = waiter
	}
	lk.lastSealed = sealed
	lk.mu.Unlock()
	return counter, lk.uplink(ctx, sealed)
}

func (lk *Lock) uplink(ctx context.Context, sealed []byte) error {
	env := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: lk.id, RSSI: lockmsg.RSSI(-55 - lk.index%30), Sealed: sealed})
	return lk.sim.send(ctx, env)
}

// request sends m and waits for the reply naming its counter; when the
// hub says (with a CounterFloor) that it dropped m as a replay, m goes
// again with a new counter.
func (lk *Lock) request(ctx context.Context, m lockmsg.Message) (lockmsg.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, lk.sim.cfg.DecisionTimeout)
	defer cancel()
	for try := 0; try < 3; try++ {
		lk.stayAwake(lk.sim.cfg.AwakeWindow)
		ch := make(chan lockmsg.Message, 1)
		counter, err := lk.seal(ctx, m, ch)
		if err != nil {
			lk.forget(counter)
			return nil, err
		}
		select {
		case reply := <-ch:
			lk.forget(counter)
			if _, floor := reply.(*lockmsg.CounterFloor); floor {
				continue
			}
			return reply, nil
		case <-ctx.Done():
			lk.forget(counter)
			return nil, ctx.Err()
		}
	}
	return nil, errors.New("the hub keeps refusing the counter")
}

func (lk *Lock) forget(counter uint32) {
	lk.mu.Lock()
	delete(lk.waiters, counter)
	lk.mu.Unlock()
}

// handle opens a message from the hub and acts on it.
func (lk *Lock) handle(ctx context.Context, sealed []byte) {
	h, m, err := lk.pairing.Open(sealed)
	if errors.Is(err, lockmsg.ErrReplay) {
		lk.mu.Lock()
		send := time.Since(lk.lastFloor) >= time.Second
		if send {
			lk.lastFloor = time.Now()
		}
		lk.mu.Unlock()
		if send {
			go func() {
				_, _ = lk.seal(ctx, &lockmsg.CounterFloor{From: lockmsg.LockToHub, Floor: lk.pairing.RxFloor()}, nil)
			}()
		}
		return
	}
	if err != nil {
		return
	}
	lk.stayAwake(lk.sim.cfg.AwakeWindow)
	answer := func(m lockmsg.Message) { go func() { _, _ = lk.seal(ctx, m, nil) }() }
	switch m := m.(type) {
	case *lockmsg.StatusAck:
		lk.resolve(m.Request, m)
	case *lockmsg.Decision:
		lk.resolve(m.Request, m)
	case *lockmsg.DoorAssign:
		lk.mu.Lock()
		lk.door = m.Door
		lk.mu.Unlock()
		answer(&lockmsg.CommandResult{Request: h.Counter, Status: lockmsg.CommandDone})
	case *lockmsg.TimeSync:
		status := lockmsg.CommandRefused
		if m.Trusted {
			lk.mu.Lock()
			lk.clockOffset = time.Until(m.Clock.Time())
			lk.mu.Unlock()
			status = lockmsg.CommandDone
		}
		answer(&lockmsg.CommandResult{Request: h.Counter, Status: status})
	case *lockmsg.RemoteUnlock:
		lk.mu.Lock()
		lk.heldUntil = time.Now().Add(time.Duration(m.UnlockSeconds) * time.Second)
		lk.mu.Unlock()
		answer(&lockmsg.CommandResult{Request: h.Counter, Status: lockmsg.CommandDone})
	case *lockmsg.ListChunk:
		lk.mu.Lock()
		ack := lk.list.chunk(m)
		lk.mu.Unlock()
		answer(ack)
	case *lockmsg.EventAck:
		lk.mu.Lock()
		kept := lk.pending[:0]
		for _, e := range lk.pending {
			if e.Seq > m.Through {
				kept = append(kept, e)
			}
		}
		lk.pending = kept
		more := len(kept) > 0
		lk.mu.Unlock()
		if more {
			go lk.sendPending(ctx)
		}
	case *lockmsg.CounterFloor:
		// Open moved our counter above the hub's floor; what the hub
		// dropped goes again.
		lk.mu.Lock()
		for c, w := range lk.waiters {
			if c <= m.Floor {
				select {
				case w <- m:
				default:
				}
			}
		}
		lk.mu.Unlock()
	}
}

func (lk *Lock) resolve(counter uint32, m lockmsg.Message) {
	lk.mu.Lock()
	w := lk.waiters[counter]
	lk.mu.Unlock()
	if w != nil {
		select {
		case w <- m:
		default:
		}
	}
}

// Challenge is the lock's side of a phone's Bluetooth session: the door id
// and a fresh nonce for the phone to sign (hub.MobileMessage). A lock that
// does not know its door yet checks in with the hub first.
func (lk *Lock) Challenge(ctx context.Context) (door string, nonce []byte, err error) {
	if lk.Door() == "" && !lk.Isolated() {
		lk.wake()
		deadline := time.Now().Add(lk.sim.cfg.DecisionTimeout)
		for lk.Door() == "" && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return "", nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	door = lk.Door()
	if door == "" {
		return "", nil, fmt.Errorf("%w: %s", ErrNoDoor, lk.id.Hex())
	}
	nonce = make([]byte, lockmsg.NonceSize)
	_, _ = rand.Read(nonce)
	lk.mu.Lock()
	lk.nonce = nonce
	lk.mu.Unlock()
	return door, nonce, nil
}

// Present presents a credential: the lock asks the hub and reports what
// the hub decided, or decides alone if it cannot reach it in time.
func (lk *Lock) Present(ctx context.Context, c Credential) (Result, error) {
	m := &lockmsg.AccessRequest{}
	switch {
	case c.Card != nil:
		m.Kind, m.CardID = lockmsg.CredKeycard, c.Card
	case c.Code != "":
		m.Kind, m.Code = lockmsg.CredDoorcode, c.Code
	case c.PublicKey != nil:
		lk.mu.Lock()
		ok := lk.nonce != nil && bytes.Equal(lk.nonce, c.Nonce)
		lk.nonce = nil // a nonce answers one presentation
		lk.mu.Unlock()
		if !ok || len(c.PublicKey) != lockmsg.PublicKeySize || len(c.Signature) != lockmsg.SignatureSize {
			return Result{}, errors.New("sim: a phone must answer the lock's current challenge (Challenge)")
		}
		m.Kind = lockmsg.CredMobile
		copy(m.PublicKey[:], c.PublicKey)
		copy(m.Nonce[:], c.Nonce)
		copy(m.Signature[:], c.Signature)
	default:
		return Result{}, errors.New("sim: present a card, a code or a phone")
	}
	if _, err := lockmsg.AppendBody(nil, m); err != nil {
		return Result{}, err
	}
	start := time.Now()
	res := Result{Lock: lk.id.Hex()}
	if !lk.Isolated() {
		reply, err := lk.request(ctx, m)
		if d, ok := reply.(*lockmsg.Decision); err == nil && ok {
			res.Allowed, res.Reason, res.UnlockSeconds = d.Allowed(), d.Reason.String(), int(d.UnlockSeconds)
			res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	// Alone: the lock decides from its own list (none: it knows no
	// credential) at its own clock, and reports the decision later.
	lk.mu.Lock()
	lk.hubLost()
	lk.eventSeq++
	now := time.Now().Add(lk.clockOffset)
	reason, entry := lk.list.decide(lk.door, m, now)
	lk.pending = append(lk.pending, lockmsg.OfflineDecision{Seq: lk.eventSeq, Clock: lockmsg.UnixTimeOf(now),
		Kind: m.Kind, Reason: reason, Entry: entry})
	lk.mu.Unlock()
	res.Allowed, res.Reason, res.Offline = reason.Allowed(), reason.String(), true
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// Inject sends the hub what an attacker on the air would: "replay" sends
// the lock's last message again, "forge" sends it with one bit flipped.
func (lk *Lock) Inject(ctx context.Context, what string) error {
	lk.mu.Lock()
	last := append([]byte(nil), lk.lastSealed...)
	lk.mu.Unlock()
	if len(last) == 0 {
		return errors.New("sim: the lock sent nothing yet")
	}
	switch what {
	case "replay":
	case "forge":
		last[lockmsg.HeaderSize] ^= 0x01
	default:
		return fmt.Errorf("sim: inject %q: want replay or forge", what)
	}
	return lk.uplink(ctx, last)
}
