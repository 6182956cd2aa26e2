package badgerstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options tunes the store. Start from DefaultOptions, sized for a
// Raspberry Pi with 1 GB of memory, including 32-bit ARM where every mmap
// counts against a 3 GB address space; docs/store.md says what each
// option costs. Open refuses options that fail Validate.
type Options struct {
	// Logger receives the store's and Badger's warnings and errors
	// (Badger's info and debug lines go to slog's debug level). Nil:
	// slog.Default().
	Logger *slog.Logger

	// MemTableSize is the size of one memtable (an arena in memory plus a
	// write-ahead file mmapped at twice the size). It also bounds one
	// Badger transaction to 15% of it: larger batches go through the
	// journal (docs/store.md).
	MemTableSize int64
	// BaseTableSize is the size of a table in the first levels below L0
	// (level-0 tables are MemTableSize). A compaction builds its output
	// tables in memory, up to 8 and more at once, each holding its blocks
	// uncompressed and compressed: this bounds what compactions allocate.
	BaseTableSize int64
	// BaseLevelSize is how much level 1 holds before it is compacted
	// down (each level below holds ten times more). Small tables in a
	// small level 1 made a bulk write compact over and over: with 64 KiB
	// tables and a 640 KiB level 1, a fresh hub's 100,000-credential
	// snapshot took 3.7 s over MQTT instead of 2.2 s; with 8 MiB, 2.3 s.
	BaseLevelSize int64
	// NumMemtables is how many memtables may exist at once (the mutable
	// one and those waiting to be flushed) before writes stall.
	NumMemtables int
	// BlockCacheSize caches decompressed table blocks. Decisions never read
	// Badger, so it only serves loads and point reads; Badger requires one
	// with compression.
	BlockCacheSize int64
	// IndexCacheSize bounds the table indexes and Bloom filters kept in
	// memory; zero would keep all of them.
	IndexCacheSize int64
	// ValueLogFileSize is the size of one value log file. Badger mmaps a
	// value log file at twice this size, so it must stay small on 32-bit
	// ARM.
	ValueLogFileSize int64
	// ValueThreshold: values at least this large go to the value log,
	// smaller ones stay in the LSM tree. Records are a few hundred bytes
	// and stay in the tree; journal chunks go to the value log.
	ValueThreshold int64
	// NumCompactors is how many compaction goroutines run (at least 2).
	NumCompactors int
	// Compression of table blocks. The JSON records of the 100,000
	// credential site take 35 MB of tables uncompressed, 10.5 MB with
	// Snappy, 6 MB with ZSTD (level 1): opening the store reads every
	// table, and those pages stay mapped, resident until the kernel needs
	// them (docs/store.md).
	Compression options.CompressionType

	// SnapshotDiffMax: a snapshot of the store's own site is compared
	// with the set as it arrives, and only what differs (records changed
	// or new, records to delete) is kept and applied at Commit like a
	// batch (docs/store.md, "Snapshots"), as long as that is at most this
	// many records; past it the snapshot falls back to writing a new
	// generation and loading a second catalog. Zero: the default
	// (DefaultSnapshotDiffMax); negative: every snapshot writes a new
	// generation.
	SnapshotDiffMax int

	// SnapshotSettle bounds how long the Commit of a snapshot written as
	// a new generation waits, once the generation is on disk, for Badger
	// to finish with the write — compactions done, its pooled table
	// buffers released (one every 2 s) — before loading the new catalog
	// beside the current one. Readers and batches go on meanwhile. The
	// wait is what keeps a wholly different 100,000-credential snapshot
	// under 96 MB (docs/store.md, "As a new generation"): 91–95 MB in
	// 18–21 s with the default, 103 MB in 11 s with 5 s. Zero: the
	// default (DefaultSnapshotSettle); negative: no wait.
	SnapshotSettle time.Duration

	// SnapshotBuildMax: beside a current set of at most this many people,
	// grants and keycards (a few MB of catalog), a snapshot written as a
	// new generation builds its catalog as its chunks arrive and Commit
	// neither waits for Badger nor reads the generation back: a fresh
	// hub's first snapshot costs about one bare write. Beside a larger
	// set it is loaded at Commit, after SnapshotSettle. Zero: the default
	// (DefaultSnapshotBuildMax); negative: always loaded at Commit.
	SnapshotBuildMax int

	// GCInterval is how often the value log garbage collector runs.
	GCInterval time.Duration
	// GCDiscardRatio: a value log file is rewritten when at least this
	// share of it is garbage.
	GCDiscardRatio float64
}

// DefaultSnapshotDiffMax is the default Options.SnapshotDiffMax: 20,000
// changed or deleted records (7% of a 100,000-credential site's 300,000)
// are applied as one journaled batch; at Commit the kept ops, undo log,
// changes and their JSON take about 23 MB of heap (measured: 98 MB peak
// RSS with an 80 MiB limit), still below the fallback's second catalog
// (31 MB) and generation write (30–60 MB of Badger buffers, 150 MB
// peak). docs/store.md, "Snapshots".
const DefaultSnapshotDiffMax = 20000

// DefaultSnapshotBuildMax is the default Options.SnapshotBuildMax.
const DefaultSnapshotBuildMax = 20000

// snapshotBuildMax is SnapshotBuildMax with its default resolved; below 0
// no snapshot builds its catalog as it arrives.
func (o Options) snapshotBuildMax() int {
	if o.SnapshotBuildMax == 0 {
		return DefaultSnapshotBuildMax
	}
	return o.SnapshotBuildMax
}

// DefaultSnapshotSettle is the default Options.SnapshotSettle.
const DefaultSnapshotSettle = 15 * time.Second

// DefaultOptions returns the options for a 1 GB Raspberry Pi.
func DefaultOptions() Options {
	return Options{
		// Badger builds every table whole in memory, in buffers it pools
		// (up to 8, each grown to the largest table it built: blocks
		// uncompressed plus their compression bound). A memtable's flush
		// and a compaction's output table (BaseTableSize compressed, 3–6
		// times that in records) are the builds: with 1 MiB memtables and
		// 192 KiB tables the pooled buffers grew to about 2.7 MB each,
		// 22–28 MB in all during a bulk write; with 512 KiB and 64 KiB
		// they stay near 1.1 MB (docs/store.md, "Badger options"), and the
		// store empties the pool itself once a bulk write is over
		// (ReleaseBuffers). 768 KiB memtables: a fresh hub's 100,000-
		// credential snapshot over MQTT took 1.9–2.3 s instead of 2.3–3.8
		// at the same peaks; 1 MiB was faster still (1.5–2.0 s) but a
		// wholly different set peaked at up to 92.2 MiB.
		MemTableSize:     768 << 10,
		BaseTableSize:    64 << 10,
		BaseLevelSize:    8 << 20,
		NumMemtables:     2,
		BlockCacheSize:   1 << 20,
		IndexCacheSize:   4 << 20,
		ValueLogFileSize: 64 << 20,
		ValueThreshold:   1 << 10,
		NumCompactors:    2,
		Compression:      options.ZSTD,
		SnapshotDiffMax:  DefaultSnapshotDiffMax,
		SnapshotSettle:   DefaultSnapshotSettle,
		GCInterval:       10 * time.Minute,
		GCDiscardRatio:   0.5,
	}
}

// snapshotDiffMax is SnapshotDiffMax with its default resolved; below 0
// no snapshot is applied as a diff.
func (o Options) snapshotDiffMax() int {
	if o.SnapshotDiffMax == 0 {
		return DefaultSnapshotDiffMax
	}
	return o.SnapshotDiffMax
}

// snapshotSettle is SnapshotSettle with its default resolved; 0 when
// there is no wait.
func (o Options) snapshotSettle() time.Duration {
	switch {
	case o.SnapshotSettle == 0:
		return DefaultSnapshotSettle
	case o.SnapshotSettle < 0:
		return 0
	}
	return o.SnapshotSettle
}

// Validate checks the options, naming the field that is wrong.
func (o Options) Validate() error {
	switch {
	case o.MemTableSize < 256<<10:
		return fmt.Errorf("badgerstore: options: MemTableSize %d: at least 256 KiB", o.MemTableSize)
	case o.BaseTableSize < 64<<10:
		return fmt.Errorf("badgerstore: options: BaseTableSize %d: at least 64 KiB", o.BaseTableSize)
	case o.BaseLevelSize < o.BaseTableSize:
		return fmt.Errorf("badgerstore: options: BaseLevelSize %d: at least BaseTableSize (%d)", o.BaseLevelSize, o.BaseTableSize)
	case o.NumMemtables < 1:
		return fmt.Errorf("badgerstore: options: NumMemtables %d: at least 1", o.NumMemtables)
	case o.BlockCacheSize < 0 || o.Compression != options.None && o.BlockCacheSize == 0:
		return fmt.Errorf("badgerstore: options: BlockCacheSize %d: must be positive with compression", o.BlockCacheSize)
	case o.IndexCacheSize < 0:
		return fmt.Errorf("badgerstore: options: IndexCacheSize %d: must not be negative", o.IndexCacheSize)
	case o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize >= 1<<30:
		return fmt.Errorf("badgerstore: options: ValueLogFileSize %d: must be 1 MiB to 1 GiB (mmapped at twice the size)", o.ValueLogFileSize)
	case o.ValueThreshold < 64 || o.ValueThreshold > o.MemTableSize*15/100:
		return fmt.Errorf("badgerstore: options: ValueThreshold %d: must be 64 bytes to 15%% of MemTableSize", o.ValueThreshold)
	case o.NumCompactors < 2:
		return fmt.Errorf("badgerstore: options: NumCompactors %d: at least 2", o.NumCompactors)
	case o.GCInterval <= 0:
		return fmt.Errorf("badgerstore: options: GCInterval %v: must be positive", o.GCInterval)
	case o.GCDiscardRatio <= 0 || o.GCDiscardRatio >= 1:
		return fmt.Errorf("badgerstore: options: GCDiscardRatio %v: must be between 0 and 1", o.GCDiscardRatio)
	}
	return nil
}

func (o Options) badger(dir string, log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(dir)
	bo.Logger = slogAdapter{log}
	// Every commit is on disk when it returns: an acknowledged version
	// survives a power cut.
	bo.SyncWrites = true
	// The store serialises its writers itself.
	bo.DetectConflicts = false
	// No expvar globals: Size reads the directory instead.
	bo.MetricsEnabled = false
	bo.NumGoroutines = 2
	bo.MemTableSize = o.MemTableSize
	bo.NumMemtables = o.NumMemtables
	bo.BaseTableSize = o.BaseTableSize
	bo.BaseLevelSize = o.BaseLevelSize
	// Tables stay BaseTableSize at every level (Badger's default doubles
	// them per level): a compaction builds its output tables whole in
	// memory, and deeper levels' 512 KiB–1 MiB tables grew its builders'
	// buffers to 4–12 MB each. Measured on the 100,000-credential site: a
	// wholly different snapshot peaked at 132–137 MB instead of 150–152,
	// nothing changed at rest. The cost is more table files at deeper
	// levels (about one per 256 KiB of compressed records: ~25 for
	// 100,000 credentials, ~240 for a million), each an open file and an
	// index entry.
	bo.TableSizeMultiplier = 1
	bo.NumLevelZeroTables = 4
	bo.NumLevelZeroTablesStall = 8
	bo.BlockCacheSize = o.BlockCacheSize
	bo.IndexCacheSize = o.IndexCacheSize
	bo.ValueLogFileSize = o.ValueLogFileSize
	bo.ValueThreshold = o.ValueThreshold
	bo.NumCompactors = o.NumCompactors
	bo.Compression = o.Compression
	// Level 1: most of the size win at a fraction of the CPU of higher levels.
	bo.ZSTDCompressionLevel = 1
	if testHookBadgerOptions != nil {
		testHookBadgerOptions(&bo)
	}
	return bo
}

// testHookBadgerOptions, set by tests only, changes Badger's options
// before Open: for measuring other settings (memory_test.go).
var testHookBadgerOptions func(*badger.Options)

// slogAdapter gives Badger a log/slog logger. Badger's errors and warnings
// keep their level; its info lines (compactions, flushes, replays) are
// debug detail for a hub.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) logf(level slog.Level, format string, args []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	a.l.Log(context.Background(), level, msg)
}

func (a slogAdapter) Errorf(f string, v ...any) { a.logf(slog.LevelError, f, v) }

// Warningf keeps Badger's warnings, except its advice that a cache is too
// small: the block cache is small on purpose (decisions never read
// Badger), and the scan that loads the catalog at Open churns it, so
// Badger would repeat that advice every minute for as long as the store
// is open (its figures are cumulative).
func (a slogAdapter) Warningf(f string, v ...any) {
	if strings.HasPrefix(f, "%s might be too small") || strings.HasPrefix(f, "Cache life expectancy") {
		a.logf(slog.LevelDebug, f, v)
		return
	}
	a.logf(slog.LevelWarn, f, v)
}

func (a slogAdapter) Infof(f string, v ...any)  { a.logf(slog.LevelDebug, f, v) }
func (a slogAdapter) Debugf(f string, v ...any) { a.logf(slog.LevelDebug-4, f, v) }
