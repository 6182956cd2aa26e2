package lockmsg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// cmac is AES-CMAC (RFC 4493, NIST SP 800-38B) with its subkeys derived.
type cmac struct {
	block  cipher.Block
	k1, k2 [aes.BlockSize]byte
}

func newCMAC(key []byte) *cmac {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // key is always 16 bytes here
	}
	c := &cmac{block: block}
	var l [aes.BlockSize]byte
	block.Encrypt(l[:], l[:])
	c.k1 = dbl(l)
	c.k2 = dbl(c.k1)
	return c
}

// dbl multiplies by x in GF(2^128) (RFC 4493 2.3 "Generate_Subkey").
func dbl(in [aes.BlockSize]byte) [aes.BlockSize]byte {
	var out [aes.BlockSize]byte
	carry := in[0] >> 7
	for i := 0; i < aes.BlockSize-1; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[aes.BlockSize-1] = in[aes.BlockSize-1]<<1 ^ byte(subtle.ConstantTimeByteEq(carry, 1))*0x87
	return out
}

// sum returns the full 16-byte CMAC of the concatenation of parts.
func (c *cmac) sum(parts ...[]byte) [aes.BlockSize]byte {
	var x, blk [aes.BlockSize]byte
	n := 0 // bytes in blk
	for _, p := range parts {
		for len(p) > 0 {
			if n == aes.BlockSize {
				// A full block that is not known to be the last.
				subtle.XORBytes(x[:], x[:], blk[:])
				c.block.Encrypt(x[:], x[:])
				n = 0
			}
			k := copy(blk[n:], p)
			n += k
			p = p[k:]
		}
	}
	if n == aes.BlockSize {
		subtle.XORBytes(blk[:], blk[:], c.k1[:])
	} else {
		blk[n] = 0x80
		clear(blk[n+1:])
		subtle.XORBytes(blk[:], blk[:], c.k2[:])
	}
	subtle.XORBytes(x[:], x[:], blk[:])
	c.block.Encrypt(x[:], x[:])
	return x
}
