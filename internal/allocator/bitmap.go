package allocator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
)

// bitmap is a set of offsets in [0, size). Bit i lives in byte i/8 under
// mask 1<<(i%8).
type bitmap struct {
	size int
	used int
	bits []byte // len (size+7)/8
}

func newBitmap(size int) *bitmap {
	return &bitmap{size: size, bits: make([]byte, (size+7)/8)}
}

func (b *bitmap) clone() *bitmap {
	return &bitmap{size: b.size, used: b.used, bits: bytes.Clone(b.bits)}
}

func (b *bitmap) has(i int) bool { return b.bits[i/8]&(1<<(i%8)) != 0 }

// set marks i used and reports whether it was free.
func (b *bitmap) set(i int) bool {
	if b.has(i) {
		return false
	}
	b.bits[i/8] |= 1 << (i % 8)
	b.used++
	return true
}

// clear marks i free and reports whether it was used.
func (b *bitmap) clear(i int) bool {
	if !b.has(i) {
		return false
	}
	b.bits[i/8] &^= 1 << (i % 8)
	b.used--
	return true
}

// firstFree returns the lowest free offset in [from, to), or -1.
func (b *bitmap) firstFree(from, to int) int {
	for i := from; i < to; {
		if i%8 == 0 && b.bits[i/8] == 0xff {
			i += 8 // whole byte used
			continue
		}
		if !b.has(i) {
			return i
		}
		i++
	}
	return -1
}

// nextFree returns a free offset in [lo, size), scanning upwards from start
// (lo <= start < size) and wrapping around to lo; -1 if there is none.
func (b *bitmap) nextFree(lo, start int) int {
	if i := b.firstFree(start, b.size); i >= 0 {
		return i
	}
	return b.firstFree(lo, start)
}

// storedRange is the JSON value kept under an allocator's etcd key.
type storedRange struct {
	// Range is the managed range: "10.43.0.0/16" or "30000-32767".
	Range string `json:"range"`
	// Size is the number of values in the range.
	Size int `json:"size"`
	// Bits is the bitmap with trailing zero bytes trimmed (base64 in JSON).
	Bits []byte `json:"bits,omitempty"`
}

func encodeBitmap(rangeDesc string, b *bitmap) ([]byte, error) {
	return json.Marshal(storedRange{Range: rangeDesc, Size: b.size, Bits: bytes.TrimRight(b.bits, "\x00")})
}

// decodeBitmap parses a stored value. It returns the stored range
// description and size alongside the bitmap so the caller can detect a
// configuration change; the bitmap is nil when the size is not wantSize.
func decodeBitmap(data []byte, wantSize int) (string, *bitmap, error) {
	var sr storedRange
	if err := json.Unmarshal(data, &sr); err != nil {
		return "", nil, fmt.Errorf("allocator: corrupt range value: %w", err)
	}
	if sr.Size != wantSize {
		return sr.Range, nil, nil
	}
	b := newBitmap(wantSize)
	if len(sr.Bits) > len(b.bits) {
		return "", nil, fmt.Errorf("allocator: corrupt range value: %d bitmap bytes for %d values", len(sr.Bits), wantSize)
	}
	copy(b.bits, sr.Bits)
	if rem := wantSize % 8; rem != 0 && len(b.bits) > 0 {
		b.bits[len(b.bits)-1] &= byte(1<<rem) - 1 // ignore bits past the end
	}
	for _, x := range b.bits {
		b.used += bits.OnesCount8(x)
	}
	return sr.Range, b, nil
}
