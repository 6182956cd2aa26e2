package eventlog_test

import (
	"fmt"
	"os"

	"github.com/doorhub/doorhub/hub/eventlog"
)

func Example() {
	dir, _ := os.MkdirTemp("", "eventlog")
	defer os.RemoveAll(dir)
	l, err := eventlog.Open(dir, eventlog.Options{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	// One Write is one group commit: records and acknowledgements, synced.
	next := l.Next()
	if err := l.Write([]eventlog.Record{{Seq: next, Data: []byte("door opened")}, {Seq: next + 1, Data: []byte("door closed")}}, nil); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Write(nil, [][2]uint64{{next, next}}); err != nil { // the cloud has the first
		fmt.Println(err)
		return
	}
	l.Close()

	l, _ = eventlog.Open(dir, eventlog.Options{SegmentSize: 64 << 10})
	defer l.Close()
	first, end := l.Bounds()
	_ = l.Read(first, end, 100, func(seq uint64, data []byte) error {
		fmt.Printf("%d %s\n", seq, data)
		return nil
	})
	fmt.Println("next", l.Next())
	// Output:
	// 2 door closed
	// next 3
}
