package proxy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ruleExprs turns one rule, in the nft syntax this package writes, into
// the expressions nft 1.0.6 sends for it (compared with `nft
// --debug=netlink` and, in the real-kernel tests, with `nft list`). It
// understands exactly the forms rules.go writes:
//
//	ip saddr|daddr [!=] ADDR[/LEN] | @SET      ip saddr . ip daddr @SET
//	ip daddr . meta l4proto . th dport vmap @MAP
//	meta l4proto PROTO [. th dport vmap @MAP]   fib saddr type local
//	numgen random mod N == 0                    ct state new | ct status dnat
//	mark and V == 0                             mark set mark or|xor V
//	update @SET { ip saddr }                    dnat to ADDR:PORT
//	dnat ip to numgen random mod N offset K map @MAP
//	masquerade fully-random | reject | jump C | goto C | return | drop | accept
func ruleExprs(rule string) ([]expr.Any, error) {
	p := &ruleParser{toks: strings.Fields(rule)}
	for p.more() {
		if err := p.statement(); err != nil {
			return nil, fmt.Errorf("rule %q: %w", rule, err)
		}
	}
	return p.out, nil
}

type ruleParser struct {
	toks []string
	out  []expr.Any
}

func (p *ruleParser) more() bool { return len(p.toks) > 0 }

func (p *ruleParser) next() string {
	if len(p.toks) == 0 {
		return ""
	}
	t := p.toks[0]
	p.toks = p.toks[1:]
	return t
}

func (p *ruleParser) peek() string {
	if len(p.toks) == 0 {
		return ""
	}
	return p.toks[0]
}

func (p *ruleParser) expect(words ...string) error {
	for _, w := range words {
		if t := p.next(); t != w {
			return fmt.Errorf("want %q, got %q", w, t)
		}
	}
	return nil
}

func (p *ruleParser) emit(e ...expr.Any) { p.out = append(p.out, e...) }

// selector is a packet field loaded into a register.
type selector struct {
	load func(reg uint32) expr.Any
	size int // bytes
}

func (p *ruleParser) selector(first string) (selector, error) {
	switch first {
	case "ip":
		off := uint32(12)
		switch f := p.next(); f {
		case "saddr":
		case "daddr":
			off = 16
		default:
			return selector{}, fmt.Errorf("ip %s", f)
		}
		return selector{size: 4, load: func(reg uint32) expr.Any {
			return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
		}}, nil
	case "meta":
		if err := p.expect("l4proto"); err != nil {
			return selector{}, err
		}
		return selector{size: 1, load: func(reg uint32) expr.Any { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg} }}, nil
	case "th":
		if err := p.expect("dport"); err != nil {
			return selector{}, err
		}
		return selector{size: 2, load: func(reg uint32) expr.Any {
			return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
		}}, nil
	}
	return selector{}, fmt.Errorf("unknown selector %q", first)
}

// Registers as nft numbers them: the first value in reg 1 (NFT_REG_1),
// the further parts of a concatenation in 32-bit registers after it.
func concatReg(i int) uint32 {
	if i == 0 {
		return unix.NFT_REG_1
	}
	return unix.NFT_REG32_00 + uint32(i)
}

func (p *ruleParser) statement() error {
	switch t := p.next(); t {
	case "ip", "meta", "th":
		return p.match(t)
	case "fib":
		if err := p.expect("saddr", "type", "local"); err != nil {
			return err
		}
		p.emit(&expr.Fib{Register: unix.NFT_REG_1, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)})
	case "numgen":
		if err := p.expect("random", "mod"); err != nil {
			return err
		}
		mod, err := strconv.ParseUint(p.next(), 10, 32)
		if err != nil {
			return err
		}
		if err := p.expect("==", "0"); err != nil {
			return err
		}
		p.emit(&expr.Numgen{Register: unix.NFT_REG_1, Type: unix.NFT_NG_RANDOM, Modulus: uint32(mod)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{0, 0, 0, 0}})
	case "ct":
		key, bit := expr.CtKeySTATE, uint32(8) // new
		switch w := p.next() + " " + p.next(); w {
		case "state new":
		case "status dnat":
			key, bit = expr.CtKeySTATUS, 0x20
		default:
			return fmt.Errorf("ct %s", w)
		}
		p.emit(&expr.Ct{Register: unix.NFT_REG_1, Key: key},
			&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, bit), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: []byte{0, 0, 0, 0}})
	case "mark":
		return p.mark()
	case "update":
		set := strings.TrimPrefix(p.next(), "@")
		if err := p.expect("{", "ip", "saddr", "}"); err != nil {
			return err
		}
		p.emit(&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: unix.NFT_REG_1, Operation: unix.NFT_DYNSET_OP_UPDATE, SetName: set})
	case "dnat":
		if p.peek() == "ip" {
			return p.dnatMap()
		}
		if err := p.expect("to"); err != nil {
			return err
		}
		ap, err := netip.ParseAddrPort(p.next())
		if err != nil || !ap.Addr().Is4() {
			return fmt.Errorf("dnat to: %v", err)
		}
		a := ap.Addr().As4()
		p.emit(&expr.Immediate{Register: unix.NFT_REG_1, Data: a[:]},
			&expr.Immediate{Register: unix.NFT_REG_2, Data: binary.BigEndian.AppendUint16(nil, ap.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: unix.NFT_REG_1, RegProtoMin: unix.NFT_REG_2, Specified: true})
	case "masquerade":
		if err := p.expect("fully-random"); err != nil {
			return err
		}
		p.emit(&expr.Masq{FullyRandom: true})
	case "reject":
		p.emit(&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}) // port unreachable
	default:
		v, err := verdict(t + " " + p.peek())
		if err != nil {
			return err
		}
		if v.Chain != "" {
			p.next()
		}
		p.emit(v)
	}
	return nil
}

// match is a selector (or a concatenation of them) followed by what it
// is compared with: a value, a prefix, a set, or a verdict map.
func (p *ruleParser) match(first string) error {
	var sels []selector
	for {
		s, err := p.selector(first)
		if err != nil {
			return err
		}
		sels = append(sels, s)
		if p.peek() != "." {
			break
		}
		p.next()
		first = p.next()
	}
	for i, s := range sels {
		p.emit(s.load(concatReg(i)))
	}
	// A concatenation is only ever looked up in a set or map.
	switch w := p.next(); {
	case w == "vmap":
		set := p.next()
		if !strings.HasPrefix(set, "@") {
			return fmt.Errorf("vmap %s: only named maps", set)
		}
		p.emit(&expr.Lookup{SourceRegister: unix.NFT_REG_1, IsDestRegSet: true, DestRegister: unix.NFT_REG_VERDICT, SetName: set[1:]})
	case strings.HasPrefix(w, "@"):
		p.emit(&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: w[1:]})
	case len(sels) > 1:
		return fmt.Errorf("concatenation compared with %q", w)
	default:
		op := expr.CmpOpEq
		if w == "!=" {
			op, w = expr.CmpOpNeq, p.next()
		}
		return p.compare(sels[0], op, w)
	}
	return nil
}

// compare matches one field against a protocol name, an address or a
// prefix. A prefix on a byte boundary loads only its bytes; any other is
// masked, as nft does.
func (p *ruleParser) compare(s selector, op expr.CmpOp, w string) error {
	if s.size == 1 {
		proto, ok := l4protos[w]
		if !ok {
			return fmt.Errorf("protocol %q", w)
		}
		p.emit(&expr.Cmp{Op: op, Register: unix.NFT_REG_1, Data: []byte{proto}})
		return nil
	}
	if s.size != 4 {
		return fmt.Errorf("cannot compare %q", w)
	}
	pfx, err := netip.ParsePrefix(w)
	if err != nil {
		a, aerr := netip.ParseAddr(w)
		if aerr != nil {
			return fmt.Errorf("address %q", w)
		}
		pfx = netip.PrefixFrom(a, 32)
	}
	if !pfx.Addr().Is4() {
		return fmt.Errorf("address %q is not IPv4", w)
	}
	a := pfx.Masked().Addr().As4()
	load := p.out[len(p.out)-1].(*expr.Payload)
	switch bits := pfx.Bits(); {
	case bits > 0 && bits%8 == 0:
		load.Len = uint32(bits / 8)
		p.emit(&expr.Cmp{Op: op, Register: unix.NFT_REG_1, Data: a[:bits/8]})
	default:
		mask := netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), bits).Masked().Addr().As4()
		p.emit(&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: op, Register: unix.NFT_REG_1, Data: a[:]})
	}
	return nil
}

// dnatMap is `dnat ip to numgen random mod N offset K map @MAP`: the
// endpoint's address and port come from the map, keyed by the number
// picked.
func (p *ruleParser) dnatMap() error {
	if err := p.expect("ip", "to", "numgen", "random", "mod"); err != nil {
		return err
	}
	mod, err := strconv.ParseUint(p.next(), 10, 32)
	if err != nil {
		return err
	}
	if err := p.expect("offset"); err != nil {
		return err
	}
	off, err := strconv.ParseUint(p.next(), 10, 32)
	if err != nil {
		return err
	}
	if err := p.expect("map"); err != nil {
		return err
	}
	set, ok := strings.CutPrefix(p.next(), "@")
	if !ok {
		return fmt.Errorf("dnat map: only named maps")
	}
	p.emit(&expr.Numgen{Register: unix.NFT_REG_1, Type: unix.NFT_NG_RANDOM, Modulus: uint32(mod), Offset: uint32(off)},
		&expr.Lookup{SourceRegister: unix.NFT_REG_1, IsDestRegSet: true, DestRegister: unix.NFT_REG_1, SetName: set},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: unix.NFT_REG_1, RegProtoMin: concatReg(1)})
	return nil
}

// mark is `mark and V == 0` (followed by a verdict) or `mark set mark
// or|xor V`.
func (p *ruleParser) mark() error {
	load := &expr.Meta{Key: expr.MetaKeyMARK, Register: unix.NFT_REG_1}
	bitwise := func(mask, xor uint32) *expr.Bitwise {
		return &expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: binary.NativeEndian.AppendUint32(nil, xor)}
	}
	switch w := p.next(); w {
	case "and":
		v, err := strconv.ParseUint(p.next(), 0, 32)
		if err != nil {
			return err
		}
		if err := p.expect("==", "0"); err != nil {
			return err
		}
		p.emit(load, bitwise(uint32(v), 0), &expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{0, 0, 0, 0}})
	case "set":
		if err := p.expect("mark"); err != nil {
			return err
		}
		op := p.next()
		v, err := strconv.ParseUint(p.next(), 0, 32)
		if err != nil {
			return err
		}
		switch op {
		case "or":
			p.emit(load, bitwise(^uint32(v), uint32(v)))
		case "xor":
			p.emit(load, bitwise(0xffffffff, uint32(v)))
		default:
			return fmt.Errorf("mark set mark %s", op)
		}
		p.emit(&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: unix.NFT_REG_1})
	default:
		return fmt.Errorf("mark %s", w)
	}
	return nil
}

// verdict parses "jump C", "goto C", "drop", "accept" or "return" (for
// a rule, or a verdict map element).
func verdict(s string) (*expr.Verdict, error) {
	kind, chain, _ := strings.Cut(strings.TrimSpace(s), " ")
	switch kind {
	case "jump":
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}, nil
	case "goto":
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}, nil
	case "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	case "accept":
		return &expr.Verdict{Kind: expr.VerdictAccept}, nil
	case "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	}
	return nil, fmt.Errorf("unknown statement %q", kind)
}
