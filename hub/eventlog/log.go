package eventlog

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/doorhub/doorhub/hub/internal/seqset"
)

// Errors of a Log.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("eventlog: closed")
	// ErrSeq is returned by Write for a record whose seq is not above
	// every seq written before.
	ErrSeq = errors.New("eventlog: seq not above the last written")
	// ErrTooLarge is returned by Write for a record over MaxPayload or
	// too large for a segment.
	ErrTooLarge = errors.New("eventlog: record too large")
)

// Options tunes a Log. Zero values take the defaults.
type Options struct {
	// SegmentSize is the size of each segment file, written with zeros
	// before it is used. Default 8 MiB; at least 4 KiB.
	SegmentSize int64
	// Logger: slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultSegmentSize is the default Options.SegmentSize.
const DefaultSegmentSize = 8 << 20

// Record is one record of the log: its seq and its bytes.
type Record struct {
	Seq  uint64
	Data []byte
}

// indexEvery is how many records apart the in-memory index of a segment
// points into it.
const indexEvery = 64

// Log is an append-only log of records in segment files of one
// directory. See the package documentation for what it guarantees.
type Log struct {
	dir  string
	opts Options
	log  *slog.Logger

	// wmu makes Write single-writer; it guards the writing state below.
	wmu      sync.Mutex
	act      *segment // the segment written to
	wEnd     int64    // where the next frame goes in act
	wNext    uint64   // the seq the next record may have at least
	broken   bool     // a write failed: start a new segment before the next
	buf      []byte
	spare    chan spareResult // the preparer's answer (capacity 1)
	asked    bool             // a spare is being prepared
	nextFile uint64           // the file number of the next segment
	wg       sync.WaitGroup

	// mu guards what readers see: the segments, their published ends and
	// indexes, next and stored.
	mu     sync.RWMutex
	segs   []*segment
	next   uint64
	stored seqset.Set
	closed bool
}

// testHookPrepare, when set, fails the preparation of segments (a full
// disk); testHookSync fails the last sync of a Write (a disk error).
var testHookPrepare, testHookSync atomic.Pointer[func() error]

type segment struct {
	f    *os.File
	path string
	file uint64
	base uint64
	salt uint64
	size int64 // capacity: the file's size
	// Published under Log.mu:
	end   int64        // offset after the last frame
	index []indexEntry // every indexEvery-th record
	nrec  int
}

type indexEntry struct {
	seq uint64
	off int64
}

type spareResult struct {
	f    *os.File
	file uint64
	err  error
}

func segName(file uint64) string { return fmt.Sprintf("seg-%016x.log", file) }

func parseSegName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".log") || len(name) != 4+16+4 {
		return 0, false
	}
	n, err := strconv.ParseUint(name[4:20], 16, 64)
	return n, err == nil
}

// Open opens the log in dir, creating it when it does not exist. It reads
// every segment, truncates a torn tail (a write a crash interrupted) and
// starts a new segment for what is written next.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < 4096 {
		opts.SegmentSize = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	l := &Log{dir: dir, opts: opts, log: opts.Logger, spare: make(chan spareResult, 1), next: 1}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("eventlog: open %s: %w", dir, err)
	}
	return l, nil
}

// recover reads the directory and leaves the log ready to write.
func (l *Log) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	type found struct {
		file uint64
		path string
	}
	var files []found
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			// A spare whose preparation a crash interrupted.
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return err
			}
			continue
		}
		if n, ok := parseSegName(name); ok {
			files = append(files, found{n, filepath.Join(l.dir, name)})
		}
	}
	slices.SortFunc(files, func(a, b found) int {
		if a.file < b.file {
			return -1
		}
		return 1
	})
	// The segments in use, by their headers. A file without a valid
	// header is unused: a spare, or a segment whose header a crash or a
	// failed write tore, which holds nothing synced (a header is synced
	// with the segment's first records). Unused files after the last
	// used one are spares; those before it go.
	var unused []found
	hdr := make([]byte, HeaderSize)
	for _, fd := range files {
		f, err := os.OpenFile(fd.path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		var base, salt uint64
		if _, err = f.ReadAt(hdr, 0); err == nil {
			base, salt, err = DecodeHeader(hdr)
		}
		if err != nil {
			f.Close()
			unused = append(unused, fd)
			continue
		}
		// A segment starting below the one before it was started again
		// after a failed write: the earlier one holds only what that write
		// left, never synced and returned. It goes.
		for n := len(l.segs); n > 0 && l.segs[n-1].base > base; n-- {
			gone := l.segs[n-1]
			l.log.Warn("removing an activity log segment a failed write left", slog.String("file", gone.path),
				slog.Uint64("base", gone.base), slog.Uint64("next_base", base))
			gone.f.Close()
			if err := os.Remove(gone.path); err != nil {
				f.Close()
				return err
			}
			l.segs = l.segs[:n-1]
		}
		l.segs = append(l.segs, &segment{f: f, path: fd.path, file: fd.file, base: base, salt: salt, size: st.Size()})
		l.nextFile = fd.file + 1
	}
	// Read each segment's frames. A later segment's base cuts the frames
	// of the one before at that seq: they were written, never synced and
	// written again after a failed write or a crash.
	var last uint64
	for i, s := range l.segs {
		limit := ^uint64(0)
		if i+1 < len(l.segs) {
			limit = l.segs[i+1].base
		}
		l.stored.Remove(s.base, ^uint64(0))
		last = min(last, s.base-1)
		var torn bool
		last, torn, err = l.scan(s, limit, last)
		if err != nil {
			return err
		}
		if torn || i == len(l.segs)-1 {
			// Cut the tail so that nothing past the frames read can come
			// back; the last segment is sealed and writing goes on in a
			// new one, with a new salt.
			if torn {
				l.log.Warn("truncating the torn tail of an activity log segment", slog.String("file", s.path),
					slog.Int64("at", s.end), slog.Int64("size", s.size))
			}
			if err := s.f.Truncate(s.end); err != nil {
				return err
			}
			if err := s.f.Sync(); err != nil {
				return err
			}
			s.size = s.end
		}
	}
	l.next = last + 1
	if n := len(l.segs); n > 0 {
		l.next = max(l.next, l.segs[n-1].base)
	}
	// A spare found after the used segments is taken; other unused files
	// go.
	var spare *spareResult
	for _, u := range unused {
		st, err := os.Stat(u.path)
		if err == nil && spare == nil && st.Size() == l.opts.SegmentSize && u.file >= l.nextFile {
			f, err := os.OpenFile(u.path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			// Zero the header: a torn one must not be read again.
			if _, err := f.WriteAt(make([]byte, HeaderSize), 0); err != nil {
				f.Close()
				return err
			}
			spare = &spareResult{f: f, file: u.file}
			continue
		}
		if err := os.Remove(u.path); err != nil {
			return err
		}
	}
	l.wNext = l.next
	// Start the segment to write in. On a full disk this fails: the log
	// opens all the same, readable, and every Write tries again first.
	if err := l.startWriting(spare); err != nil {
		l.log.Warn("activity log: no segment to write in yet; writes will try again",
			slog.String("dir", l.dir), slog.Any("err", err))
		l.broken = true
	}
	l.publish(nil, nil)
	l.collect()
	return nil
}

// startWriting starts the first segment of an opened log in spare (or a
// new one when nil), synced.
func (l *Log) startWriting(spare *spareResult) error {
	if spare != nil {
		l.spare <- *spare
		l.asked = true
	}
	if err := l.rotate(l.next); err != nil {
		return err
	}
	return datasync(l.act.f)
}

// scan reads the frames of s from its header on, up to the record seq
// limit, and adds them to the stored set. last is the highest seq before
// the segment. It reports whether it stopped at a frame that failed its
// checks (a torn tail) rather than at the end of the frames.
func (l *Log) scan(s *segment, limit, last uint64) (uint64, bool, error) {
	sc := scanner{f: s.f, salt: s.salt, off: HeaderSize, limit: s.size}
	for {
		off := sc.pos()
		seq, p, err := sc.next()
		if err != nil {
			s.end = off
			if errors.Is(err, errEnd) || errors.Is(err, io.EOF) {
				return last, false, nil
			}
			if errors.Is(err, ErrCorrupt) {
				return last, true, nil
			}
			return last, false, err
		}
		if seq == 0 {
			from, to := decodeAck(p)
			l.stored.Remove(from, to)
			continue
		}
		if seq >= limit || seq <= last {
			// Cut by the next segment's base, or out of order: the tail.
			s.end = off
			return last, true, nil
		}
		if s.nrec%indexEvery == 0 {
			s.index = append(s.index, indexEntry{seq, off})
		}
		s.nrec++
		l.stored.Add(seq, seq)
		last = seq
	}
}

// prepare makes the segment file of number file: written with zeros to
// SegmentSize and synced under a temporary name, then renamed.
func (l *Log) prepare(file uint64) (*os.File, error) {
	path := filepath.Join(l.dir, segName(file))
	tmp := path + ".tmp"
	if hook := testHookPrepare.Load(); hook != nil {
		if err := (*hook)(); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("eventlog: preparing a segment: %w", err)
	}
	zeros := make([]byte, min(1<<20, l.opts.SegmentSize))
	for off := int64(0); off < l.opts.SegmentSize; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), l.opts.SegmentSize-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(l.dir); err != nil {
		return fail(err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// askSpare starts the preparation of the next segment in the background.
func (l *Log) askSpare() {
	if l.asked {
		return
	}
	l.asked = true
	file := l.nextFile
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f, err := l.prepare(file)
		l.spare <- spareResult{f: f, file: file, err: err}
	}()
}

// rotate starts a new segment whose first record is base: it takes the
// spare (waiting for it when it is still being prepared) and writes its
// header, which the caller syncs with what it writes next. The writer
// holds wmu (or is recover).
func (l *Log) rotate(base uint64) error {
	l.askSpare()
	sp := <-l.spare
	l.asked = false
	if sp.err != nil {
		return sp.err
	}
	var salt [8]byte
	if _, err := rand.Read(salt[:]); err != nil {
		sp.f.Close()
		return err
	}
	s := &segment{f: sp.f, path: filepath.Join(l.dir, segName(sp.file)), file: sp.file, base: base,
		salt: binary.LittleEndian.Uint64(salt[:]), size: l.opts.SegmentSize, end: HeaderSize}
	if _, err := s.f.WriteAt(AppendHeader(nil, base, s.salt), 0); err != nil {
		// The spare stays usable: its header is zero or torn, and either
		// reads as unused.
		l.spare <- sp
		l.asked = true
		return err
	}
	l.nextFile = sp.file + 1
	if l.act != nil && l.broken {
		// Best effort: the next segment's base cuts these frames anyway.
		_ = l.act.f.Truncate(l.wEnd)
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.act, l.wEnd, l.broken = s, HeaderSize, false
	l.askSpare()
	return nil
}

// Next returns the seq the next record gets at least: one above the last
// written (or above what Skip passed over).
func (l *Log) Next() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next
}

// Write appends recs, whose seqs must increase and be at least Next, and
// acknowledgement frames removing the ranges acks, and syncs them: when
// it returns nil they are on disk and visible to Read. When it returns an
// error nothing of it is visible, and the log starts a new segment before
// the next write (what did reach the disk is read back after a crash,
// and cut by the new segment otherwise). Write calls are serialised.
func (l *Log) Write(recs []Record, acks [][2]uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	for i, r := range recs {
		if r.Seq < l.wNext || (i > 0 && r.Seq <= recs[i-1].Seq) {
			return fmt.Errorf("%w: %d", ErrSeq, r.Seq)
		}
		if len(r.Data) > MaxPayload || int64(FrameOverhead+len(r.Data)) > l.opts.SegmentSize-HeaderSize {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(r.Data))
		}
	}
	if l.broken {
		if err := l.rotate(l.wNext); err != nil {
			return err
		}
	}
	type pending struct {
		seg   *segment
		end   int64
		index []indexEntry
		nrec  int
	}
	var touched []pending
	cur := pending{seg: l.act, end: l.wEnd, nrec: l.act.nrec}
	l.buf = l.buf[:0]
	flush := func() error {
		if len(l.buf) > 0 {
			if _, err := cur.seg.f.WriteAt(l.buf, cur.end-int64(len(l.buf))); err != nil {
				return err
			}
			l.buf = l.buf[:0]
		}
		return nil
	}
	startAct, startEnd, startSegs := l.act, l.wEnd, len(l.segs)
	fail := func(err error) error {
		l.broken = true
		if l.act != startAct {
			// Segments this write started hold nothing visible: they go,
			// and the next write starts one at the same seq. (Should one
			// stay on disk, Open removes it: a later segment starts below
			// it.)
			l.mu.Lock()
			created := slices.Clone(l.segs[startSegs:])
			l.segs = l.segs[:startSegs]
			l.mu.Unlock()
			for _, s := range created {
				s.f.Close()
				_ = os.Remove(s.path)
			}
			l.act, l.wEnd = startAct, startEnd
		}
		return err
	}
	// room makes room for a frame of size bytes, in a new segment
	// starting at base when the current one is full.
	room := func(size int64, base uint64) error {
		if cur.end+size <= cur.seg.size {
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		if err := datasync(cur.seg.f); err != nil {
			return err
		}
		touched = append(touched, cur)
		l.wEnd = cur.end
		if err := l.rotate(base); err != nil {
			return err
		}
		cur = pending{seg: l.act, end: l.wEnd}
		return nil
	}
	wNext := l.wNext
	for _, r := range recs {
		size := int64(FrameOverhead + len(r.Data))
		if err := room(size, r.Seq); err != nil {
			l.wNext = wNext
			return fail(err)
		}
		if cur.nrec%indexEvery == 0 {
			cur.index = append(cur.index, indexEntry{r.Seq, cur.end})
		}
		cur.nrec++
		l.buf = AppendFrame(l.buf, cur.seg.salt, r.Seq, r.Data)
		cur.end += size
		l.wNext = r.Seq + 1
	}
	for _, a := range acks {
		if err := room(FrameOverhead+16, l.wNext); err != nil {
			l.wNext = wNext
			return fail(err)
		}
		l.buf = AppendAck(l.buf, cur.seg.salt, a[0], a[1])
		cur.end += FrameOverhead + 16
	}
	if err := flush(); err != nil {
		l.wNext = wNext
		return fail(err)
	}
	if hook := testHookSync.Load(); hook != nil {
		if err := (*hook)(); err != nil {
			l.wNext = wNext
			return fail(err)
		}
	}
	if err := datasync(cur.seg.f); err != nil {
		l.wNext = wNext
		return fail(err)
	}
	touched = append(touched, cur)
	l.wEnd = cur.end
	l.mu.Lock()
	for _, p := range touched {
		p.seg.end = p.end
		p.seg.index = append(p.seg.index, p.index...)
		p.seg.nrec = p.nrec
	}
	l.mu.Unlock()
	l.publish(recs, acks)
	l.collect()
	return nil
}

// publish makes written records and acknowledgements visible.
func (l *Log) publish(recs []Record, acks [][2]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.stored.Add(r.Seq, r.Seq)
	}
	if len(recs) > 0 {
		l.next = recs[len(recs)-1].Seq + 1
	}
	l.next = max(l.next, l.wNext)
	for _, a := range acks {
		l.stored.Remove(a[0], a[1])
	}
}

// collect deletes the oldest segments while none of their records is
// stored any more. The segment written to stays. Deleting is not synced:
// a segment a crash brings back carries the acknowledgements that
// emptied it (they are in it or in a later segment, and later segments
// go after it).
func (l *Log) collect() {
	l.mu.Lock()
	var gone []*segment
	for len(l.segs) > 1 {
		s, nxt := l.segs[0], l.segs[1]
		if len(l.stored.Within(s.base, nxt.base)) > 0 {
			break
		}
		gone = append(gone, s)
		l.segs = l.segs[1:]
	}
	l.mu.Unlock()
	for _, s := range gone {
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			l.log.Warn("removing an acknowledged activity log segment", slog.String("file", s.path), slog.Any("err", err))
		}
	}
}

// Skip makes next at least seq, durably, without records: it starts a
// new segment at seq. It is for taking over a stream whose seqs went on
// elsewhere.
func (l *Log) Skip(seq uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if seq <= l.wNext {
		return nil
	}
	if err := l.rotate(seq); err != nil {
		return err
	}
	if err := datasync(l.act.f); err != nil {
		l.broken = true
		return err
	}
	l.wNext = seq
	l.publish(nil, nil)
	l.collect()
	return nil
}

// Bounds returns the lowest stored seq (0 when none is) and Next.
func (l *Log) Bounds() (first, next uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.stored) > 0 {
		first = l.stored[0][0]
	}
	return first, l.next
}

// Stored returns the stored seqs as sorted, disjoint ranges [lo, hi].
func (l *Log) Stored() [][2]uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.stored.Clone()
}

// Len counts the stored records.
func (l *Log) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return int(l.stored.Count())
}

// Segments counts the segment files in use.
func (l *Log) Segments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// Read calls fn with up to most stored records whose seqs are in
// [from, to), in seq order; data is only valid during the call. It stops
// at the first error fn returns, and returns it.
func (l *Log) Read(from, to uint64, most int, fn func(seq uint64, data []byte) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	ranges := l.stored.Within(from, to)
	if len(ranges) == 0 || most <= 0 {
		return nil
	}
	from, to = ranges[0][0], ranges[len(ranges)-1][1]+1
	n := 0
	i := sortSearchSegs(l.segs, from)
	for ; i < len(l.segs) && n < most; i++ {
		s := l.segs[i]
		hi := to
		if i+1 < len(l.segs) {
			hi = min(hi, l.segs[i+1].base)
		}
		lo := max(from, s.base)
		if lo >= hi {
			continue
		}
		off := int64(HeaderSize)
		j := sortSearchIndex(s.index, lo)
		if j >= 0 {
			off = s.index[j].off
		}
		sc := scanner{f: s.f, salt: s.salt, off: off, limit: s.end}
		for n < most {
			seq, p, err := sc.next()
			if errors.Is(err, io.EOF) || errors.Is(err, errEnd) {
				break
			}
			if err != nil {
				return fmt.Errorf("eventlog: reading %s: %w", s.path, err)
			}
			if seq == 0 || seq < lo {
				continue
			}
			if seq >= hi {
				break
			}
			if !l.stored.Has(seq) {
				continue
			}
			if err := fn(seq, p); err != nil {
				return err
			}
			n++
		}
	}
	return nil
}

// sortSearchSegs returns the index of the segment holding seq (0 when
// seq is below every base).
func sortSearchSegs(segs []*segment, seq uint64) int {
	i, _ := slices.BinarySearchFunc(segs, seq, func(s *segment, seq uint64) int {
		if s.base <= seq {
			return -1
		}
		return 1
	})
	return max(i-1, 0)
}

// sortSearchIndex returns the last index entry at or below seq, or -1.
func sortSearchIndex(idx []indexEntry, seq uint64) int {
	i, _ := slices.BinarySearchFunc(idx, seq, func(e indexEntry, seq uint64) int {
		if e.seq <= seq {
			return -1
		}
		return 1
	})
	return i - 1
}

// Close stops the preparation of a spare and closes the files. Writes
// already returned are on disk; nothing else is pending.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
	if l.asked {
		if sp := <-l.spare; sp.f != nil {
			sp.f.Close()
		}
		l.asked = false
	}
	return l.closeFiles()
}

func (l *Log) closeFiles() error {
	var first error
	for _, s := range l.segs {
		if err := s.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	select {
	case sp := <-l.spare:
		if sp.f != nil {
			sp.f.Close()
		}
	default:
	}
	return first
}

// scanner reads frames of a segment file from an offset up to a limit.
type scanner struct {
	f     *os.File
	salt  uint64
	off   int64 // file offset of buf[0]
	limit int64 // where the readable bytes end
	buf   []byte
	at    int // position in buf
}

func (s *scanner) pos() int64 { return s.off + int64(s.at) }

// next returns the next frame; io.EOF at the limit, errEnd at zeros,
// ErrCorrupt at a frame that fails its checks or runs past the limit.
func (s *scanner) next() (uint64, []byte, error) {
	for {
		seq, p, n, need, err := DecodeFrame(s.buf[s.at:], s.salt)
		if err == nil {
			s.at += n
			return seq, p, nil
		}
		if !errors.Is(err, errShort) {
			return 0, nil, err
		}
		if s.pos() >= s.limit {
			return 0, nil, io.EOF
		}
		if s.pos()+int64(need) > s.limit {
			if allZero(s.buf[s.at:]) && s.fill(int(s.limit-s.pos())) == nil && allZero(s.buf[s.at:]) {
				return 0, nil, errEnd
			}
			return 0, nil, ErrCorrupt
		}
		if err := s.fill(max(need, 64<<10)); err != nil {
			return 0, nil, err
		}
	}
}

// fill makes buf hold at least want bytes from the current position (as
// many as the limit allows).
func (s *scanner) fill(want int) error {
	s.off += int64(s.at)
	rest := copy(s.buf, s.buf[s.at:])
	s.buf, s.at = s.buf[:rest], 0
	want = int(min(int64(want), s.limit-s.off))
	if want <= len(s.buf) {
		return nil
	}
	if cap(s.buf) < want {
		s.buf = append(make([]byte, 0, want), s.buf...)
	}
	n, err := s.f.ReadAt(s.buf[len(s.buf):want], s.off+int64(len(s.buf)))
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil && !(errors.Is(err, io.EOF) && len(s.buf) > 0) {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return err
	}
	return nil
}
