package eventlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A segment file starts with a header, then holds frames back to back;
// what follows the last frame is zeros (the file is preallocated) or the
// end of the file. All integers are little-endian.
//
// Header, HeaderSize bytes:
//
//	0  [8]byte  magic "DHEVLOG1"
//	8  uint64   base: the seq of the segment's first record (the next
//	            seq of the log when the segment was started)
//	16 uint64   salt: random, different for every segment
//	24 uint32   CRC-32C of bytes 0..23
//	28 uint32   zero
//
// Frame, FrameOverhead bytes plus its payload:
//
//	0  uint32   payload length
//	4  uint32   CRC-32C of the segment's salt (8 bytes), then bytes 0..3
//	            and 8.. of the frame
//	8  uint64   seq of the record, or 0 for an acknowledgement frame
//	16 payload  the record; an acknowledgement's is two uint64, from and
//	            to, the seqs it removes (inclusive)
//
// A frame whose first 16 bytes are zero ends the segment. The salt makes
// a frame of another segment (or an older use of the same bytes) fail its
// check, so a segment's frames are exactly those written since its header.
const (
	HeaderSize    = 32
	FrameOverhead = 16
	// MaxPayload bounds a record's size.
	MaxPayload = 1 << 20
)

var magic = [8]byte{'D', 'H', 'E', 'V', 'L', 'O', 'G', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Decoding outcomes of DecodeFrame besides success.
var (
	// errShort: the bytes end inside the frame; need says how many the
	// whole frame takes (FrameOverhead when even the length is missing).
	errShort = errors.New("eventlog: frame continues past the bytes given")
	// errEnd: the frame is all zeros, the end of the segment's frames.
	errEnd = errors.New("eventlog: end of frames")
	// ErrCorrupt is returned for a frame or header that fails its checks:
	// on recovery it marks the torn tail of the log.
	ErrCorrupt = errors.New("eventlog: corrupt frame")
)

// AppendHeader appends a segment header to dst.
func AppendHeader(dst []byte, base, salt uint64) []byte {
	start := len(dst)
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, base)
	dst = binary.LittleEndian.AppendUint64(dst, salt)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:start+24], castagnoli))
	return binary.LittleEndian.AppendUint32(dst, 0)
}

// DecodeHeader reads a segment header. It returns errEnd when the header
// is all zeros (a preallocated segment not yet used) and ErrCorrupt when
// it fails its check.
func DecodeHeader(b []byte) (base, salt uint64, err error) {
	if len(b) < HeaderSize {
		return 0, 0, ErrCorrupt
	}
	if allZero(b[:HeaderSize]) {
		return 0, 0, errEnd
	}
	if [8]byte(b[:8]) != magic || binary.LittleEndian.Uint32(b[24:]) != crc32.Checksum(b[:24], castagnoli) ||
		binary.LittleEndian.Uint32(b[28:]) != 0 {
		return 0, 0, ErrCorrupt
	}
	return binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]), nil
}

// AppendFrame appends a frame of the record seq (0: an acknowledgement)
// to dst. payload must not exceed MaxPayload.
func AppendFrame(dst []byte, salt, seq uint64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], frameCRC(salt, dst[start:]))
	return dst
}

// AppendAck appends an acknowledgement frame removing [from, to].
func AppendAck(dst []byte, salt, from, to uint64) []byte {
	var p [16]byte
	binary.LittleEndian.PutUint64(p[:], from)
	binary.LittleEndian.PutUint64(p[8:], to)
	return AppendFrame(dst, salt, 0, p[:])
}

func frameCRC(salt uint64, frame []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], salt)
	c := crc32.Update(0, castagnoli, s[:])
	c = crc32.Update(c, castagnoli, frame[:4])
	return crc32.Update(c, castagnoli, frame[8:])
}

// DecodeFrame reads the frame at the start of b, written in the segment
// of salt. It returns the record's seq (0 for an acknowledgement), its
// payload (aliasing b) and the frame's size; errEnd at the zeros that end
// a segment's frames, errShort with need set when b ends inside the frame,
// ErrCorrupt when the frame fails its checks.
func DecodeFrame(b []byte, salt uint64) (seq uint64, payload []byte, n, need int, err error) {
	if len(b) < FrameOverhead {
		return 0, nil, 0, FrameOverhead, errShort
	}
	length := binary.LittleEndian.Uint32(b)
	if length == 0 && allZero(b[:FrameOverhead]) {
		return 0, nil, 0, 0, errEnd
	}
	if length > MaxPayload {
		return 0, nil, 0, 0, ErrCorrupt
	}
	n = FrameOverhead + int(length)
	if len(b) < n {
		return 0, nil, 0, n, errShort
	}
	if binary.LittleEndian.Uint32(b[4:]) != frameCRC(salt, b[:n]) {
		return 0, nil, 0, 0, ErrCorrupt
	}
	seq = binary.LittleEndian.Uint64(b[8:])
	if seq == 0 && length != 16 {
		return 0, nil, 0, 0, ErrCorrupt
	}
	return seq, b[FrameOverhead:n], n, 0, nil
}

// decodeAck reads an acknowledgement frame's payload.
func decodeAck(p []byte) (from, to uint64) {
	return binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
