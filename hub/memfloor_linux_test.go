package hub

import (
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkMemoryFloorHugePages is BenchmarkMemoryFloor with both tables
// in memory the kernel backs with 2 MB pages where it can (MADV_HUGEPAGE;
// the Go heap gets 4 KB pages unless transparent huge pages are
// "always"): what the floor would be with far fewer TLB misses.
func BenchmarkMemoryFloorHugePages(b *testing.B) {
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			_ = syscall.Munmap(m)
		}
	}()
	huge := func(size int) unsafe.Pointer {
		const page = 2 << 20
		size = (size + page - 1) / page * page
		m, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			b.Fatal(err)
		}
		maps = append(maps, m)
		off := (page - int(uintptr(unsafe.Pointer(&m[0]))%page)) % page
		m = m[off : off+size]
		if err := syscall.Madvise(m, 14 /* MADV_HUGEPAGE */); err != nil {
			b.Skipf("madvise(MADV_HUGEPAGE): %v", err)
		}
		for i := 0; i < len(m); i += 4096 {
			m[i] = 0 // fault it in now, as 2 MB pages where the kernel has them
		}
		return unsafe.Pointer(&m[0])
	}
	benchmarkMemoryFloor(b, func(n int) ([]uint32, [][16]uint32) {
		return unsafe.Slice((*uint32)(huge(8*n)), 2*n), unsafe.Slice((*[16]uint32)(huge(64*n)), n)
	})
}
