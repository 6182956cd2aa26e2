//go:build linux

package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseCodePages lets go of the daemon's mappings of its own
// executable's code and read-only data (MADV_DONTNEED): the pages stay in
// the page cache, and what runs next maps them again with a minor fault.
// A Go binary's code is faulted in 64 KiB at a time around each first
// use, so after start-up ~14 of its 16 MB stay mapped although the
// daemon at rest runs ~2 MB of it, and a snapshot's burst maps more. The
// settle loop calls it every 10 s: the resident size then counts the code
// in use, as the kernel would once memory ran short. Only mappings no
// page of which was ever copied (Anonymous: 0 kB in smaps) are advised:
// a relocated read-only page would lose its relocation. It returns how
// many bytes it advised.
func releaseCodePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	exe = strings.TrimSuffix(exe, " (deleted)") // replaced by an upgrade
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type mapping struct {
		start, end uint64
		clean      bool
	}
	var maps []mapping
	cur := -1 // the mapping whose lines are being read, if it is one of ours
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			if cur >= 0 && strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) != "0" {
				maps[cur].clean = false
			}
			continue
		}
		// A mapping's first line: start-end perms offset dev inode path.
		fields := strings.Fields(line)
		if len(fields) < 5 || !strings.Contains(fields[0], "-") || strings.HasSuffix(fields[0], ":") {
			continue
		}
		cur = -1
		path := ""
		if len(fields) > 5 {
			path = strings.TrimSuffix(strings.Join(fields[5:], " "), " (deleted)")
		}
		if path != exe || fields[1] != "r-xp" && fields[1] != "r--p" {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		maps = append(maps, mapping{start: start, end: end, clean: true})
		cur = len(maps) - 1
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	var advised int64
	for _, m := range maps {
		if !m.clean {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), syscall.MADV_DONTNEED); errno != 0 {
			return advised, errno
		}
		advised += int64(m.end - m.start)
	}
	return advised, nil
}
