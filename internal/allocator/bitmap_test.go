package allocator

import (
	"bytes"
	"testing"
)

func bitmapOf(size int, used ...int) *bitmap {
	b := newBitmap(size)
	for _, i := range used {
		b.set(i)
	}
	return b
}

func TestBitmapNextFree(t *testing.T) {
	full16 := make([]int, 16)
	for i := range full16 {
		full16[i] = i
	}
	tests := []struct {
		name      string
		b         *bitmap
		lo, start int
		want      int
	}{
		{name: "empty from start", b: bitmapOf(10), lo: 0, start: 0, want: 0},
		{name: "empty from middle", b: bitmapOf(10), lo: 0, start: 7, want: 7},
		{name: "skips used", b: bitmapOf(10, 7, 8), lo: 0, start: 7, want: 9},
		{name: "wraps to lo", b: bitmapOf(10, 7, 8, 9), lo: 1, start: 7, want: 1},
		{name: "never below lo", b: bitmapOf(4, 1, 2, 3), lo: 1, start: 2, want: -1},
		{name: "skips whole bytes", b: bitmapOf(20, full16...), lo: 0, start: 0, want: 16},
		{name: "full", b: bitmapOf(16, full16...), lo: 0, start: 5, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.nextFree(tc.lo, tc.start); got != tc.want {
				t.Errorf("nextFree(%d, %d) = %d; want %d", tc.lo, tc.start, got, tc.want)
			}
		})
	}
}

func TestBitmapEncoding(t *testing.T) {
	tests := []struct {
		name      string
		stored    []byte
		size      int
		wantRange string
		wantNil   bool
		wantUsed  []int
		wantErr   bool
	}{
		{name: "round trip", stored: mustEncode(t, "r", bitmapOf(100, 0, 9, 50)), size: 100, wantRange: "r", wantUsed: []int{0, 9, 50}},
		{name: "trailing zeros trimmed", stored: mustEncode(t, "r", bitmapOf(1000, 3)), size: 1000, wantRange: "r", wantUsed: []int{3}},
		{name: "empty", stored: mustEncode(t, "r", bitmapOf(1000)), size: 1000, wantRange: "r"},
		{name: "other size", stored: mustEncode(t, "other", bitmapOf(10, 1)), size: 20, wantRange: "other", wantNil: true},
		{name: "bits past the end ignored", stored: []byte(`{"range":"r","size":3,"bits":"/w=="}`), size: 3, wantRange: "r", wantUsed: []int{0, 1, 2}},
		{name: "too many bytes", stored: []byte(`{"range":"r","size":3,"bits":"AAAA"}`), size: 3, wantErr: true},
		{name: "not JSON", stored: []byte("x"), size: 3, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotRange, b, err := decodeBitmap(tc.stored, tc.size)
			if (err != nil) != tc.wantErr {
				t.Fatalf("decode error = %v; want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if gotRange != tc.wantRange {
				t.Errorf("range = %q; want %q", gotRange, tc.wantRange)
			}
			if (b == nil) != tc.wantNil {
				t.Fatalf("bitmap = %v; want nil %v", b, tc.wantNil)
			}
			if b == nil {
				return
			}
			want := bitmapOf(tc.size, tc.wantUsed...)
			if b.used != want.used || !bytes.Equal(b.bits, want.bits) {
				t.Errorf("decoded used=%d bits=%x; want used=%d bits=%x", b.used, b.bits, want.used, want.bits)
			}
		})
	}
}

func mustEncode(t *testing.T, desc string, b *bitmap) []byte {
	t.Helper()
	data, err := encodeBitmap(desc, b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
