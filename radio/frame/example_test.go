package frame_test

import (
	"fmt"

	"github.com/doorhub/doorhub/radio/frame"
)

func Example() {
	// Two frames with line noise between them, as a serial port might
	// deliver them: in arbitrary chunks.
	var wire []byte
	wire = frame.AppendEncode(wire, []byte("open"))
	wire = append(wire, 0xde, 0xad, 0xbe, 0xef)
	wire = frame.AppendEncode(wire, []byte{0x00, 0x01})
	fmt.Printf("% x\n", wire[:11])

	var d frame.Decoder
	for _, chunk := range [][]byte{wire[:5], wire[5:13], wire[13:]} {
		for len(chunk) > 0 {
			n, payload, err := d.Next(chunk)
			chunk = chunk[n:]
			switch {
			case err != nil:
				fmt.Println("dropped:", err)
			case payload != nil:
				fmt.Printf("frame: % x\n", payload)
			}
		}
	}
	// Output:
	// 00 09 6f 70 65 6e 9d 29 2d 28 00
	// frame: 6f 70 65 6e
	// dropped: frame: bad byte stuffing
	// frame: 00 01
}
