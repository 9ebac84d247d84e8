package proxy

import (
	"slices"
	"testing"
)

func TestPickBlocks(t *testing.T) {
	b := newPickBlocks()
	a := b.pick("a", 3)
	if a != (block{0, 0, 4}) {
		t.Fatalf("first block = %+v; want map 0 keys 0-3", a)
	}
	b.commit(nil, map[string]block{"a": a})
	if got := b.pick("a", 4); got != a {
		t.Errorf("4 endpoints in a block of 4: got %+v; want the same block %+v", got, a)
	}
	grown := b.pick("a", 5)
	if grown.size != 8 || grown == a {
		t.Fatalf("5 endpoints: got %+v; want a new block of 8", grown)
	}
	// Until the sync that moves "a" is written, its old block is not free.
	if c := b.pick("c", 4); c == a {
		t.Fatalf("block %+v handed out while still in use", c)
	}
	b.commit(map[string]block{"a": a}, map[string]block{"a": grown})
	if d := b.pick("d", 3); d != a {
		t.Errorf("after the move: got %+v; want the released block %+v", d, a)
	}
	// Blocks fill a map, then open the next; a large one gets its own.
	b = newPickBlocks()
	var maps []uint32
	for i := range mapKeys/8 + 1 {
		maps = append(maps, b.pick(string(rune('a'+i)), 8).m)
	}
	if maps[0] != 0 || maps[len(maps)-2] != 0 || maps[len(maps)-1] != 1 {
		t.Errorf("maps of %d blocks of 8: %v; want map 0 full, then map 1", mapKeys/8+1, maps)
	}
	big := b.pick("big", mapKeys+1)
	if big.m != 2 || big.start != 0 || big.size != 2*mapKeys {
		t.Errorf("large block = %+v; want map 2 of its own", big)
	}
	if next := b.pick("next", 1); next.m != 3 {
		t.Errorf("block after a large one = %+v; want a new map", next)
	}
	// A map emptied by a sync can go in the same transaction.
	b = newPickBlocks()
	x, y := b.pick("x", 2), b.pick("y", 2)
	b.commit(nil, map[string]block{"x": x, "y": y})
	if got := b.emptied([]block{x}, nil); len(got) != 0 {
		t.Errorf("emptied with y left = %v; want none", got)
	}
	if got := b.emptied([]block{x, y}, nil); !slices.Equal(got, []uint32{0}) {
		t.Errorf("emptied with both gone = %v; want [0]", got)
	}
}
