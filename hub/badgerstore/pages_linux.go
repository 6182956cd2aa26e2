package badgerstore

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim the pages of a range.
// It never discards data: a dirty page is written back first, and a
// private page without swap stays.
const madvPageout = 21

// ReleaseTablePages asks the kernel to reclaim the pages of the store's
// table files (*.sst) and value log files (*.vlog) that the process has
// mapped. Badger maps every table; loading the credential set reads them
// all, and those pages then stay in the daemon's resident set — about 6
// MB at 100,000 credentials — though decisions never read Badger. It
// writes new tables and the value log (a journaled batch's chunks)
// through their mappings too: a 20,000-record diff left ~20 MB of value
// log pages resident. A page needed again is read back from the file. It returns the bytes of the ranges it advised (mapped,
// not necessarily resident). On a kernel without MADV_PAGEOUT it does
// nothing and says so.
//
// It goes by /proc/self/maps, so a table Badger unmaps meanwhile may be
// advised after its range was reused: MADV_PAGEOUT is safe there too, as
// it only ever reclaims.
func (s *Store) ReleaseTablePages() (int64, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return 0, err
	}
	dir += string(filepath.Separator)
	var advised int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], dir) || !strings.HasSuffix(fields[5], ".sst") && !strings.HasSuffix(fields[5], ".vlog") ||
			!strings.HasSuffix(fields[1], "s") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout); errno != 0 {
			if errno == syscall.EINVAL {
				return advised, errno // no MADV_PAGEOUT: an older kernel
			}
			continue // unmapped meanwhile (ENOMEM)
		}
		advised += int64(end - start)
	}
	return advised, sc.Err()
}
