package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// staleChainDelay is how long a flushed chain waits before it is deleted:
// kernels before 6.2 notice only a little later that a deleted map
// element no longer references it (upstream waits the same).
const staleChainDelay = time.Second

// txPhases collects a transaction's operations in the order nftables
// needs them: references are removed before what they point to, and
// created before anything points to them.
type txPhases struct {
	elemDeletes []knftables.Object
	chains      []knftables.Object // chain adds and flushes (verb in op)
	chainVerbs  []bool             // true: flush, false: add
	setDeletes  []knftables.Object
	setAdds     []knftables.Object
	rules       []knftables.Object
	elemAdds    []knftables.Object
	// chainDeletes are chains nothing references any more (flushed at
	// least staleChainDelay ago).
	chainDeletes []string
}

// A txWriter applies a transaction to the kernel atomically: all of it
// or none (and nothing when it is empty). Production writes over netlink
// (nlWriter); unit tests through knftables' fake (nftWriter).
type txWriter interface {
	write(ctx context.Context, tx *nfTx) error
	// list lists the names of the table's "chains" or "sets" (maps
	// included); a missing table is no names or a not-found error.
	list(ctx context.Context, what string) ([]string, error)
	// close releases what the writer holds (a socket); a later write
	// starts afresh. Safe twice.
	close()
}

// nfTx is a transaction being built: operations in order, on the objects
// knftables defines (so the fake can play them too).
type nfTx struct{ ops []txOp }

type txOp struct {
	verb txVerb
	obj  knftables.Object
}

type txVerb int

const (
	opAdd txVerb = iota
	opFlush
	opDelete
)

func (tx *nfTx) add(o knftables.Object)   { tx.ops = append(tx.ops, txOp{opAdd, o}) }
func (tx *nfTx) flush(o knftables.Object) { tx.ops = append(tx.ops, txOp{opFlush, o}) }
func (tx *nfTx) del(o knftables.Object)   { tx.ops = append(tx.ops, txOp{opDelete, o}) }

func (t *txPhases) addChain(name string) {
	t.chains, t.chainVerbs = append(t.chains, &knftables.Chain{Name: name}), append(t.chainVerbs, false)
}
func (t *txPhases) flushChain(name string) {
	t.chains, t.chainVerbs = append(t.chains, &knftables.Chain{Name: name}), append(t.chainVerbs, true)
}

func (t *txPhases) writeRules(chain string, rules []string) {
	for _, r := range rules {
		t.rules = append(t.rules, &knftables.Rule{Chain: chain, Rule: r})
	}
}

func (t *txPhases) into(tx *nfTx) {
	for _, o := range t.elemDeletes {
		tx.del(o)
	}
	for i, o := range t.chains {
		if t.chainVerbs[i] {
			tx.flush(o)
		} else {
			tx.add(o)
		}
	}
	for _, o := range t.setDeletes {
		tx.del(o)
	}
	for _, o := range t.setAdds {
		tx.add(o)
	}
	for _, o := range t.rules {
		tx.add(o)
	}
	for _, o := range t.elemAdds {
		tx.add(o)
	}
	for _, c := range t.chainDeletes {
		tx.del(&knftables.Chain{Name: c})
	}
}

func affinitySet(name string, timeout int) *knftables.Set {
	return &knftables.Set{
		Name: name, Type: "ipv4_addr",
		// dynamic: the packet path adds elements ("update @set").
		Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
		Timeout: ptr.To(time.Duration(timeout) * time.Second),
	}
}

// sync brings the table up to date: a full rewrite when asked for (first
// sync, after a failure, periodic, node zone change), otherwise only the
// Services marked dirty. It reports whether the sync was full.
func (p *Proxier) sync(ctx context.Context) (bool, error) {
	start := p.clock.Now()
	p.mu.Lock()
	full := p.full || p.programmed == nil
	dirty := p.dirty
	p.dirty = map[string]struct{}{}
	p.full = false
	rc := ruleContext{nodeName: p.cfg.NodeName, zone: p.zone, clusterCIDR: p.clusterCIDR}
	p.mu.Unlock()
	if full && p.recreate {
		// The table is made anew: every block of the endpoints map is
		// free, including any taken by a sync that failed.
		p.picks = newPickBlocks()
	}
	rc.picks = p.picks

	p.deleteStaleChains(ctx, start)

	var keys []string
	if full {
		keys = p.listKeys()
		for k := range p.programmed {
			keys = append(keys, k)
		}
	} else {
		for k := range dirty {
			keys = append(keys, k)
		}
		for k := range p.conflicted {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = slices.Compact(keys)
	want := make(map[string]*svcRules, len(keys))
	for _, k := range keys {
		want[k] = p.build(k, rc)
	}

	var err error
	var udpChanged bool
	var gone []netip.AddrPort
	if full {
		udpChanged, err = p.syncFull(ctx, keys, want, start)
	} else {
		udpChanged, gone, err = p.syncPartial(ctx, keys, want, start)
	}
	if err != nil {
		// The kernel is in an unknown state relative to ours: replace it
		// all next time.
		p.recreate = true
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
		return full, err
	}
	for _, k := range keys {
		for _, w := range want[k].warn {
			p.log.Warn("skipped part of a Service", "service", k, "problem", w)
		}
	}
	p.health.sync(p.healthPorts(), p.nodePortIPs)
	if udpChanged && p.ct != nil {
		if n, err := p.ct.clearStaleUDP(p.udpTargets(), gone, p.nodePortIPs); err != nil {
			p.log.Warn("could not clear stale UDP conntrack entries", "err", err)
		} else if n > 0 {
			p.log.Debug("cleared stale UDP conntrack entries", "count", n)
		}
	}
	p.log.Debug("proxy synced", "full", full, "services", len(keys), "took", p.clock.Since(start))
	if p.onSynced != nil {
		p.onSynced(full, keys, p.clock.Since(start))
	}
	return full, nil
}

// claim records which Service owns each element of want, in key order:
// the first Service to hold an element keeps it; a later one that wants
// the same key (two Services on one NodePort, say) is logged and loses
// that element until the owner lets it go.
func (p *Proxier) claim(keys []string, want map[string]*svcRules) {
	for _, k := range keys {
		delete(p.conflicted, k)
		r := want[k]
		for ek := range r.elems {
			if sharedSet(ek.container) {
				continue
			}
			if o, ok := p.owners[ek]; ok && o != k {
				r.warn = append(r.warn, fmt.Sprintf("%s %s is already used by Service %s; left out", ek.container, ek.key, o))
				delete(r.elems, ek)
				p.conflicted[k] = true
				continue
			}
			p.owners[ek] = k
		}
	}
}

func (p *Proxier) syncPartial(ctx context.Context, keys []string, want map[string]*svcRules, now time.Time) (bool, []netip.AddrPort, error) {
	// Let go of the old elements first, so an element moving between
	// Services in one sync goes to its new owner.
	for _, k := range keys {
		if old := p.programmed[k]; old != nil {
			for ek := range old.elems {
				if !sharedSet(ek.container) && p.owners[ek] == k {
					delete(p.owners, ek)
				}
			}
		}
	}
	p.claim(keys, want)

	var t txPhases
	udpChanged := false
	var gone []netip.AddrPort
	newStale := map[string]bool{}
	addedMaps := map[string]bool{}
	// Shared set elements: counted per Service; written when the count
	// leaves or reaches zero. before holds counts from before this sync.
	before := map[elemKey]int{}
	refsBefore := func(ek elemKey) {
		if _, ok := before[ek]; !ok {
			before[ek] = p.refs[ek]
		}
	}
	for _, k := range keys {
		old, nw := p.programmed[k], want[k]
		if old == nil {
			old = newSvcRules()
		}
		for ek, e := range old.elems {
			if sharedSet(ek.container) {
				refsBefore(ek)
				p.refs[ek]--
				continue
			}
			if ne, ok := nw.elems[ek]; !ok || ne.value != e.value {
				t.elemDeletes = append(t.elemDeletes, e.object(ek.container))
			}
		}
		for ek, e := range nw.elems {
			if sharedSet(ek.container) {
				refsBefore(ek)
				p.refs[ek]++
				continue
			}
			if oe, ok := old.elems[ek]; !ok || oe.value != e.value {
				t.elemAdds = append(t.elemAdds, e.object(ek.container))
			}
		}
		for _, k := range nw.blocks {
			// Adding a map that exists changes nothing.
			if m := endpointsMap(k.m); !addedMaps[m.Name] {
				addedMaps[m.Name] = true
				t.setAdds = append(t.setAdds, m)
			}
		}
		setsChanged := false
		for name, to := range old.sets {
			if nto, ok := nw.sets[name]; !ok || nto != to {
				setsChanged = true
				t.setDeletes = append(t.setDeletes, &knftables.Set{Name: name})
			}
		}
		for name, to := range nw.sets {
			if oto, ok := old.sets[name]; !ok || oto != to {
				setsChanged = true
				t.setAdds = append(t.setAdds, affinitySet(name, to))
			}
		}
		for _, name := range sortedChains(nw.chains) {
			rules := nw.chains[name]
			oldRules, had := old.chains[name]
			switch {
			case had && !setsChanged && slices.Equal(oldRules, rules):
				continue
			case had:
				t.flushChain(name)
			default:
				t.addChain(name)
				if _, ok := p.stale[name]; ok {
					t.flushChain(name)
					delete(p.stale, name)
				}
			}
			t.writeRules(name, rules)
		}
		for _, name := range sortedChains(old.chains) {
			if _, ok := nw.chains[name]; !ok {
				t.flushChain(name)
				newStale[name] = true
			}
		}
		if !sameUDP(old.udp, nw.udp) {
			udpChanged = true
			gone = append(gone, goneDests(old.udp, nw.udp)...)
		}
	}
	// Endpoints maps left without blocks go with their last rule.
	var oldBlocks, newBlocks []block
	for _, k := range keys {
		if old := p.programmed[k]; old != nil {
			for _, b := range old.blocks {
				oldBlocks = append(oldBlocks, b)
			}
		}
		for _, b := range want[k].blocks {
			newBlocks = append(newBlocks, b)
		}
	}
	emptied := p.picks.emptied(oldBlocks, newBlocks)
	slices.Sort(emptied)
	for _, m := range emptied {
		t.setDeletes = append(t.setDeletes, endpointsMap(m))
	}
	for _, ek := range sortedKeys(before) {
		b, a := before[ek], p.refs[ek]
		e := element{key: strings.Split(ek.key, " . ")}
		switch {
		case b > 0 && a <= 0:
			t.elemDeletes = append(t.elemDeletes, e.object(ek.container))
		case b <= 0 && a > 0:
			t.elemAdds = append(t.elemAdds, e.object(ek.container))
		}
		if a <= 0 {
			delete(p.refs, ek)
		}
	}
	var tx nfTx
	t.into(&tx)
	if err := p.writer.write(ctx, &tx); err != nil {
		return false, nil, fmt.Errorf("partial sync of %d Services: %w", len(keys), err)
	}
	for _, k := range keys {
		p.store(k, p.programmed[k], want[k])
	}
	for name := range newStale {
		p.stale[name] = now
	}
	return udpChanged, gone, nil
}

// syncFull rewrites the whole table in one transaction: fixed chains,
// sets and maps are flushed and refilled, every Service chain rewritten,
// chains and affinity sets nobody wants any more flushed or deleted.
//
// The first full sync of a Proxier, and the one after a failed sync,
// instead replaces the table atomically (add, delete, create in one
// transaction): a table left by an older or crashed proxy, or one in a
// state we cannot explain, might hold definitions we could not change in
// place, and this way there is no moment without rules.
func (p *Proxier) syncFull(ctx context.Context, keys []string, want map[string]*svcRules, now time.Time) (bool, error) {
	recreate := p.recreate
	var existingChains, existingSets []string
	var err error
	if !recreate {
		existingChains, err = p.writer.list(ctx, "chains")
		if err != nil && !isNotFound(err) {
			return true, fmt.Errorf("listing chains: %w", err)
		}
	}
	// Our table always has chains; without any it is not there, and a
	// netlink listing of its sets would fail with ENOENT.
	if len(existingChains) > 0 {
		existingSets, err = p.writer.list(ctx, "sets")
		if err != nil && !isNotFound(err) {
			return true, fmt.Errorf("listing sets: %w", err)
		}
	}
	p.log.Debug("listed chains and sets", "chains", len(existingChains), "sets", len(existingSets), "took", p.clock.Since(now))
	haveChain := make(map[string]bool, len(existingChains))
	for _, c := range existingChains {
		haveChain[c] = true
	}
	haveSet := make(map[string]bool, len(existingSets))
	for _, s := range existingSets {
		haveSet[s] = true
	}
	knownSets := map[string]int{}
	for _, r := range p.programmed {
		for n, to := range r.sets {
			knownSets[n] = to
		}
	}

	p.owners = map[elemKey]string{}
	p.refs = map[elemKey]int{}
	p.conflicted = map[string]bool{}
	p.claim(keys, want)
	p.nodePortIPs = p.nodePortAddrs()

	var tx nfTx
	if recreate {
		tx.add(&knftables.Table{})
		tx.del(&knftables.Table{})
		p.stale = map[string]time.Time{}
		knownSets = map[string]int{}
	}
	tx.add(&knftables.Table{Comment: ptr.To("Skiff service proxy")})
	for _, bc := range baseChains {
		c := &knftables.Chain{Name: bc.name, Type: ptr.To(bc.typ), Hook: ptr.To(bc.hook), Priority: ptr.To(bc.priority)}
		tx.add(c)
		tx.flush(c)
	}
	fixed := fixedChains(p.serviceCIDR, p.clusterCIDR)
	for _, fc := range fixed {
		c := &knftables.Chain{Name: fc[0].(string)}
		tx.add(c)
		tx.flush(c)
	}
	for _, s := range fixedSets() {
		tx.add(s)
		tx.flush(s)
	}
	for _, bc := range baseChains {
		for _, r := range bc.jumps {
			tx.add(&knftables.Rule{Chain: bc.name, Rule: r})
		}
	}
	for _, fc := range fixed {
		for _, r := range fc[1].([]string) {
			tx.add(&knftables.Rule{Chain: fc[0].(string), Rule: r})
		}
	}
	for _, a := range p.nodePortIPs {
		tx.add(&knftables.Element{Set: nodePortIPsSet, Key: []string{a.String()}})
	}

	var t txPhases
	wantChains := map[string]bool{}
	wantSets := map[string]bool{}
	udp := false
	for _, k := range keys {
		r := want[k]
		for _, b := range r.blocks {
			if m := endpointsMap(b.m); !wantSets[m.Name] {
				wantSets[m.Name] = true
				tx.add(m)
				tx.flush(m)
			}
		}
		for _, name := range sortedChains(r.chains) {
			wantChains[name] = true
			t.addChain(name)
			if haveChain[name] {
				t.flushChain(name)
			}
			t.writeRules(name, r.chains[name])
		}
		for name, to := range r.sets {
			wantSets[name] = true
			if haveSet[name] && knownSets[name] != to {
				t.setDeletes = append(t.setDeletes, &knftables.Set{Name: name})
			}
			t.setAdds = append(t.setAdds, affinitySet(name, to))
		}
		for _, ek := range sortedElems(r.elems) {
			if sharedSet(ek.container) {
				p.refs[ek]++
				if p.refs[ek] > 1 {
					continue
				}
			}
			t.elemAdds = append(t.elemAdds, r.elems[ek].object(ek.container))
		}
		udp = udp || len(r.udp) > 0
	}
	newStale := map[string]bool{}
	for _, c := range existingChains {
		if isServiceChain(c) && !wantChains[c] {
			t.flushChain(c)
			newStale[c] = true
		}
	}
	for _, s := range existingSets {
		if (isAffinitySet(s) || isEndpointsMap(s)) && !wantSets[s] {
			t.setDeletes = append(t.setDeletes, &knftables.Set{Name: s})
		}
	}
	t.into(&tx)
	listed := p.clock.Since(now)
	if err := p.writer.write(ctx, &tx); err != nil {
		return true, fmt.Errorf("full sync of %d Services: %w", len(keys), err)
	}
	p.log.Debug("full sync transaction", "operations", len(tx.ops), "prepare", listed, "nft", p.clock.Since(now)-listed)
	old := p.programmed
	if recreate {
		old = nil // their blocks were never in this table
	}
	p.recreate = false
	p.programmed = make(map[string]*svcRules, len(keys))
	for _, k := range keys {
		p.store(k, old[k], want[k])
	}
	for c := range p.stale {
		if wantChains[c] {
			delete(p.stale, c)
		}
	}
	for c := range newStale {
		if _, ok := p.stale[c]; !ok {
			p.stale[c] = now
		}
	}
	return udp, nil
}

// isNotFound reports a missing table, from nft or from a netlink listing
// (which reports the kernel's ENOENT as is).
func isNotFound(err error) bool {
	return knftables.IsNotFound(err) || errors.Is(err, syscall.ENOENT)
}

// store records what the kernel now has for a Service, which had old
// (nil if nothing) before.
func (p *Proxier) store(k string, old, r *svcRules) {
	if p.programmed == nil {
		p.programmed = map[string]*svcRules{}
	}
	var oldBlocks map[string]block
	if old != nil {
		oldBlocks = old.blocks
	}
	p.picks.commit(oldBlocks, r.blocks)
	if len(r.chains) == 0 && len(r.elems) == 0 && len(r.sets) == 0 && !p.conflicted[k] {
		delete(p.programmed, k)
		return
	}
	r.warn = nil
	p.programmed[k] = r
}

// deleteStaleChains deletes chains flushed at least staleChainDelay ago,
// in a transaction of their own.
func (p *Proxier) deleteStaleChains(ctx context.Context, now time.Time) {
	var t txPhases
	for c, at := range p.stale {
		if now.Sub(at) >= staleChainDelay {
			t.chainDeletes = append(t.chainDeletes, c)
		}
	}
	if len(t.chainDeletes) == 0 {
		return
	}
	names := t.chainDeletes
	for _, c := range names {
		delete(p.stale, c)
	}
	var tx nfTx
	t.into(&tx)
	if err := p.writer.write(ctx, &tx); err != nil {
		// A full sync lists and flushes them again.
		p.log.Warn("could not delete stale chains; the next full sync retries", "count", len(names), "err", err)
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
	}
}

func (p *Proxier) healthPorts() map[int]healthPort {
	out := map[int]healthPort{}
	keys := make([]string, 0, len(p.programmed))
	for k, r := range p.programmed {
		if r.health != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		h := *p.programmed[k].health
		if o, ok := out[h.port]; ok {
			p.log.Warn("health check node port used twice; keeping the first", "port", h.port, "service", k, "owner", o.namespace+"/"+o.name)
			continue
		}
		out[h.port] = h
	}
	return out
}

func (p *Proxier) udpTargets() []udpTarget {
	var out []udpTarget
	for _, r := range p.programmed {
		out = append(out, r.udp...)
	}
	return out
}

func sameUDP(a, b []udpTarget) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].nodePort != b[i].nodePort || !slices.Equal(a[i].dests, b[i].dests) || len(a[i].endpoints) != len(b[i].endpoints) {
			return false
		}
		for e := range a[i].endpoints {
			if !b[i].endpoints[e] {
				return false
			}
		}
	}
	return true
}

func sortedKeys(m map[elemKey]int) []elemKey {
	out := make([]elemKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].container != out[j].container {
			return out[i].container < out[j].container
		}
		return out[i].key < out[j].key
	})
	return out
}

func sortedChains(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedElems(m map[elemKey]element) []elemKey {
	out := make([]elemKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].container != out[j].container {
			return out[i].container < out[j].container
		}
		return out[i].key < out[j].key
	})
	return out
}

// goneDests lists the destinations in old that new no longer has.
func goneDests(old, new []udpTarget) []netip.AddrPort {
	keep := map[netip.AddrPort]bool{}
	for _, t := range new {
		for _, d := range t.dests {
			keep[d] = true
		}
	}
	var out []netip.AddrPort
	for _, t := range old {
		for _, d := range t.dests {
			if !keep[d] {
				out = append(out, d)
			}
		}
	}
	return out
}
