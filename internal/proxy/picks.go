package proxy

import "math/bits"

// block is a range of keys in endpoints map m: start … start+size-1.
type block struct{ m, start, size uint32 }

// mapKeys is how many keys one endpoints map holds (a block larger than
// that gets a map of its own). The kernel's cost of a map grows with the
// rules that look it up times its elements: adding a rule that looks up
// a map walks all of the map's elements, and adding an element visits all
// of the map's rules. One map for every Service at 10,000 Services made a
// full sync take 30 s; maps of at most mapKeys keys keep both factors
// small. (Many maps cost too: the kernel finds a set by name in a list.
// At 10,000 Services 128 and 256 keys measured the same; with 1,024 the
// two walks above still dominated the kernel's profile.)
const mapKeys = 256

// pickBlocks hands out blocks of endpoints map keys to Service chains. A
// chain keeps its block while its endpoints fit (sizes are powers of
// two), so an endpoint change touches only map elements. A block is
// released when the Service that held it has been written without it,
// never earlier: until then its keys may still be in the kernel.
//
// Owned by the sync loop; no lock.
type pickBlocks struct {
	maps uint32             // endpoints maps opened: 0 … maps-1
	next uint32             // first free key in map maps-1
	free map[uint32][]block // released blocks by size
	held map[string]block   // chain → block, as the kernel has it
	used map[uint32]int     // map → blocks held in it
}

func newPickBlocks() *pickBlocks {
	return &pickBlocks{free: map[uint32][]block{}, held: map[string]block{}, used: map[uint32]int{}}
}

// pick returns chain's block for n endpoints: the one it holds if n fits,
// otherwise a free or new one (the old one is released by commit).
func (b *pickBlocks) pick(chain string, n int) block {
	if h, ok := b.held[chain]; ok && int(h.size) >= n {
		return h
	}
	size := uint32(1) << bits.Len(uint(max(n, 1)-1))
	if f := b.free[size]; len(f) > 0 {
		k := f[len(f)-1]
		b.free[size] = f[:len(f)-1]
		return k
	}
	if size > mapKeys {
		// A map of its own; the next small block opens another.
		b.maps++
		b.next = mapKeys
		return block{b.maps - 1, 0, size}
	}
	if b.maps == 0 || b.next+size > mapKeys {
		b.maps++
		b.next = 0
	}
	k := block{b.maps - 1, b.next, size}
	b.next += size
	return k
}

// commit records that a Service's chains now use blocks (in the kernel)
// instead of old: blocks no longer used are free again.
func (b *pickBlocks) commit(old, blocks map[string]block) {
	for c, k := range old {
		if nk, ok := blocks[c]; !ok || nk != k {
			b.free[k.size] = append(b.free[k.size], k)
			if b.held[c] == k {
				delete(b.held, c)
				b.used[k.m]--
			}
		}
	}
	for c, k := range blocks {
		if b.held[c] != k {
			b.held[c] = k
			b.used[k.m]++
		}
	}
}

// emptied lists the maps that a sync replacing the blocks of some
// Services (old → blocks, both merged over the Services) leaves without
// any block: they can be deleted in the same transaction.
func (b *pickBlocks) emptied(old, blocks []block) []uint32 {
	left := map[uint32]int{}
	for _, k := range old {
		if _, ok := left[k.m]; !ok {
			left[k.m] = b.used[k.m]
		}
		left[k.m]--
	}
	for _, k := range blocks {
		left[k.m]++
	}
	var out []uint32
	for m, n := range left {
		if n <= 0 {
			out = append(out, m)
		}
	}
	return out
}
