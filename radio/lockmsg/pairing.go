package lockmsg

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Pairing errors.
var (
	// ErrReplay: an authentic message whose counter was already accepted
	// or lies below the replay window. It is dropped; the receiver may
	// answer with its CounterFloor (rate-limited) so that a peer that
	// restarted behind the floor skips ahead.
	ErrReplay = errors.New("lockmsg: replayed message")
	// ErrDirection: an authentic message of the direction this side sends:
	// one of its own messages reflected back. Dropped.
	ErrDirection = errors.New("lockmsg: message of the wrong direction")
	// ErrCounterExhausted: the send counter reached 2^32-1; the lock must
	// be paired again with a new key.
	ErrCounterExhausted = errors.New("lockmsg: message counter exhausted")
	// ErrCounterStore: the counter store failed; nothing was sent or
	// accepted. Wrapped together with the store's error.
	ErrCounterStore = errors.New("lockmsg: counter store failed")
)

// Role is which end of a pairing this side is.
type Role uint8

// Roles.
const (
	RoleHub  Role = 1
	RoleLock Role = 2
)

func (r Role) sends() Direction {
	if r == RoleHub {
		return HubToLock
	}
	return LockToHub
}

// Default counter blocks: how far ahead a mark is persisted.
const (
	DefaultSendBlock = 256
	DefaultRecvBlock = 64
)

// PairingOptions tune counter persistence. Larger blocks mean fewer writes
// and more counters skipped (send) or a CounterFloor exchange (receive)
// after each restart; a block of 1 writes on every message.
type PairingOptions struct {
	SendBlock uint32 // default DefaultSendBlock
	RecvBlock uint32 // default DefaultRecvBlock
}

// PairingStats counts what Open and Seal did.
type PairingStats struct {
	Sealed    uint64 // messages sealed
	Accepted  uint64 // messages accepted by Open
	Forged    uint64 // dropped: MAC did not verify
	Replayed  uint64 // dropped: counter already seen or too old
	Reflected uint64 // dropped: our own direction
	Malformed uint64 // dropped: not a message of this protocol
	Skipped   uint64 // send counters skipped on a peer's floor
}

// Pairing is one side's security state for one paired lock: the keys, the
// counter it sends with, and the replay window of what it receives.
// Methods are safe for concurrent use.
//
// Counters survive restarts by blocks: before sending counter c beyond the
// stored send mark S, Seal stores c+SendBlock-1; after a restart sending
// resumes at S+1, so a counter is never used twice with one key. Before
// accepting c beyond the stored receive mark R, Open stores
// c+RecvBlock-1; after a restart every counter at or below R is dropped,
// so nothing accepted before is accepted again. A peer still below R gets a
// CounterFloor (or sees RxFloor in a Hello) and skips ahead.
type Pairing struct {
	lock  LockID
	role  Role
	keys  *Keys
	store CounterStore
	opts  PairingOptions

	mu        sync.Mutex
	next      uint32 // next counter to send; 0 once exhausted
	sendMark  uint32
	window    ReplayWindow
	recvMark  uint32
	stats     PairingStats
	exhausted bool
}

// NewPairing loads the counters of lock from store and returns the state
// of the side role.
func NewPairing(lock LockID, key Key, role Role, store CounterStore, opts PairingOptions) (*Pairing, error) {
	if role != RoleHub && role != RoleLock {
		return nil, fmt.Errorf("lockmsg: unknown role %d", role)
	}
	if opts.SendBlock == 0 {
		opts.SendBlock = DefaultSendBlock
	}
	if opts.RecvBlock == 0 {
		opts.RecvBlock = DefaultRecvBlock
	}
	p := &Pairing{lock: lock, role: role, keys: NewKeys(key), store: store, opts: opts}
	var err error
	if p.sendMark, err = store.LoadCounter(lock, CounterSend); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCounterStore, err)
	}
	if p.recvMark, err = store.LoadCounter(lock, CounterReceive); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCounterStore, err)
	}
	p.next = p.sendMark + 1
	p.exhausted = p.sendMark == math.MaxUint32
	p.window = NewReplayWindow(p.recvMark)
	return p, nil
}

// Lock returns the lock this pairing is for.
func (p *Pairing) Lock() LockID { return p.lock }

// Seal appends m sealed with the next counter to dst and returns the
// counter used (a reply names it: Decision.Request, ...).
func (p *Pairing) Seal(dst []byte, m Message) ([]byte, uint32, error) {
	if d := m.Type().Direction(); d != p.role.sends() {
		return dst, 0, fmt.Errorf("%w: %s is not sent by this side", ErrInvalid, m.Type())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exhausted {
		return dst, 0, ErrCounterExhausted
	}
	c := p.next
	if c > p.sendMark {
		mark := addSat(c, p.opts.SendBlock-1)
		if err := p.store.StoreCounter(p.lock, CounterSend, mark); err != nil {
			return dst, 0, fmt.Errorf("%w: %v", ErrCounterStore, err)
		}
		p.sendMark = mark
	}
	out, err := Seal(dst, p.keys, p.lock, c, m)
	if err != nil {
		return out, 0, err
	}
	// The counter is spent even if the caller never sends the bytes.
	if c == math.MaxUint32 {
		p.exhausted = true
	} else {
		p.next = c + 1
	}
	p.stats.Sealed++
	return out, c, nil
}

// Open verifies, decrypts and replay-checks a sealed message from the
// peer. On success the counter is spent: the same bytes are dropped as
// ErrReplay next time.
//
// Two messages also move this side's own counter, inside Open: a
// CounterFloor, and (on the hub) a Hello's RxFloor. Both only ever raise
// the next counter to send above the peer's floor, so a CounterFloor is
// accepted even with an old counter: after both sides restarted, each must
// hear the other's floor although neither yet sends above it. Replaying
// one can do no more than repeat a raise that already happened.
func (p *Pairing) Open(sealed []byte) (Header, Message, error) {
	h, m, err := Unseal(p.keys, p.lock, sealed)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case errors.Is(err, ErrForged):
		p.stats.Forged++
		return h, nil, err
	case err != nil:
		p.stats.Malformed++
		return h, nil, err
	case h.Type.Direction() == p.role.sends():
		p.stats.Reflected++
		return h, nil, fmt.Errorf("%w: %s", ErrDirection, h.Type)
	}
	if f, ok := m.(*CounterFloor); ok {
		p.skipAbove(f.Floor)
		if p.window.Check(h.Counter) {
			if err := p.accept(h.Counter); err != nil {
				return h, nil, err
			}
		}
		return h, m, nil
	}
	if !p.window.Check(h.Counter) {
		p.stats.Replayed++
		return h, nil, fmt.Errorf("%w: %s counter %d, floor %d", ErrReplay, h.Type, h.Counter, p.window.Top())
	}
	if err := p.accept(h.Counter); err != nil {
		return h, nil, err
	}
	if hello, ok := m.(*Hello); ok {
		p.skipAbove(hello.RxFloor)
	}
	return h, m, nil
}

// accept persists the receive mark if needed and records c.
func (p *Pairing) accept(c uint32) error {
	if c > p.recvMark {
		mark := addSat(c, p.opts.RecvBlock-1)
		if err := p.store.StoreCounter(p.lock, CounterReceive, mark); err != nil {
			return fmt.Errorf("%w: %v", ErrCounterStore, err)
		}
		p.recvMark = mark
	}
	p.window.Accept(c)
	p.stats.Accepted++
	return nil
}

// skipAbove makes the next counter sent greater than floor.
func (p *Pairing) skipAbove(floor uint32) {
	if p.exhausted || floor < p.next {
		return
	}
	if floor == math.MaxUint32 {
		p.exhausted = true
		return
	}
	p.stats.Skipped += uint64(floor + 1 - p.next)
	p.next = floor + 1
}

// RxFloor returns the highest counter received (or restored at start): the
// Floor of a CounterFloor this side sends, and a lock's Hello.RxFloor.
func (p *Pairing) RxFloor() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.window.Top()
}

// NextCounter returns the counter the next Seal will use (0 once exhausted).
func (p *Pairing) NextCounter() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exhausted {
		return 0
	}
	return p.next
}

// Stats returns the counts so far.
func (p *Pairing) Stats() PairingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func addSat(a, b uint32) uint32 {
	if a > math.MaxUint32-b {
		return math.MaxUint32
	}
	return a + b
}
