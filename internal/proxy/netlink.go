package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// nlWriter writes transactions to the kernel as one nfnetlink batch on a
// netlink socket of its own, without the nft binary. nft 1.0.x reads
// every chain and set of the table before each transaction (its cache);
// at 10,000 Services that is most of what one small change cost. The
// kernel still commits the batch atomically: all of it or none.
//
// Rules arrive as the text the rest of the package writes (and the golden
// files show); ruleExprs turns that text into the expressions nft would
// have made. Only the forms this package writes are understood; anything
// else is an error, and the sync that carried it fails (and is retried as
// a full sync, through the same path, so a rule form ruleExprs lacks
// shows up in the real-kernel tests at once).
//
// The socket stays open between transactions: closing a netfilter netlink
// socket waits for the kernel to free what earlier transactions replaced
// (an RCU grace period, ~10 ms), which would otherwise be paid by every
// sync.
type nlWriter struct {
	mu    sync.Mutex // guards fd and rules; held for a whole transaction
	fd    int        // -1 when closed
	rules ruleCache
}

var _ txWriter = (*nlWriter)(nil)

func newNLWriter() *nlWriter { return &nlWriter{fd: -1} }

// close closes the socket; a later write opens another. Safe twice.
func (w *nlWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reset()
}

// nftWriter runs transactions through knftables (the nft binary, or its
// fake in unit tests).
type nftWriter struct{ nft knftables.Interface }

var _ txWriter = nftWriter{}

func (nftWriter) close() {}

func (w nftWriter) list(ctx context.Context, what string) ([]string, error) {
	if what != "sets" {
		return w.nft.List(ctx, what)
	}
	// knftables lists maps apart from sets; the kernel does not.
	sets, err := w.nft.List(ctx, "sets")
	if err != nil {
		return nil, err
	}
	maps, err := w.nft.List(ctx, "maps")
	return append(sets, maps...), err
}

func (w nftWriter) write(ctx context.Context, t *nfTx) error {
	if len(t.ops) == 0 {
		return nil
	}
	tx := w.nft.NewTransaction()
	for _, op := range t.ops {
		switch op.verb {
		case opAdd:
			tx.Add(op.obj)
		case opFlush:
			tx.Flush(op.obj)
		case opDelete:
			tx.Delete(op.obj)
		}
	}
	return w.nft.Run(ctx, tx)
}

// nlSeq numbers netlink messages across writers, so replies can be told
// apart from those of an earlier batch; each batch takes a range. nlSetID
// numbers sets made in a batch (the kernel wants an ID; ours are found by
// name).
var nlSeq, nlSetID atomic.Uint32

const (
	nftFamily         = unix.NFPROTO_IPV4
	nftaTableUserdata = 6 // NFTA_TABLE_USERDATA, not in x/sys/unix
)

// list dumps the names of the table's chains or sets (maps included).
// A missing table is ENOENT (for sets) or no names.
func (w *nlWriter) list(ctx context.Context, what string) ([]string, error) {
	typ, tableAttr, nameAttr := unix.NFT_MSG_GETCHAIN, uint16(unix.NFTA_CHAIN_TABLE), uint16(unix.NFTA_CHAIN_NAME)
	if what == "sets" {
		typ, tableAttr, nameAttr = unix.NFT_MSG_GETSET, unix.NFTA_SET_TABLE, unix.NFTA_SET_NAME
	} else if what != "chains" {
		return nil, fmt.Errorf("netlink: cannot list %q", what)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.open(); err != nil {
		return nil, err
	}
	seq := nlSeq.Add(1)
	req := appendMsg(nil, uint16(unix.NFNL_SUBSYS_NFTABLES<<8|typ), unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq, nftFamily,
		strAttr(tableAttr, tableName))
	if err := unix.Sendto(w.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		w.reset()
		return nil, fmt.Errorf("netlink list %s: %w", what, err)
	}
	var names []string
	rbuf := make([]byte, 256<<10)
	for {
		n, _, err := unix.Recvfrom(w.fd, rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			w.reset()
			return nil, fmt.Errorf("netlink list %s: %w", what, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(rbuf[:n])
		if err != nil {
			w.reset()
			return nil, fmt.Errorf("netlink list %s: %w", what, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return names, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("netlink list %s: %w", what, unix.Errno(errno))
					}
				}
				return names, nil
			}
			if len(m.Data) < 4 {
				continue
			}
			var table, name string
			for a := m.Data[4:]; len(a) >= 4; {
				l := int(binary.NativeEndian.Uint16(a))
				if l < 4 || l > len(a) {
					break
				}
				switch binary.NativeEndian.Uint16(a[2:]) &^ unix.NLA_F_NESTED {
				case tableAttr:
					table = strings.TrimRight(string(a[4:l]), "\x00")
				case nameAttr:
					name = strings.TrimRight(string(a[4:l]), "\x00")
				}
				a = a[min((l+3)&^3, len(a)):]
			}
			if table == tableName && name != "" {
				names = append(names, name)
			}
		}
	}
}

// open opens the socket if it is not. w.mu is held.
func (w *nlWriter) open() error {
	if w.fd >= 0 {
		return nil
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("netlink bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	tv := unix.NsecToTimeval((30 * time.Second).Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	w.fd = fd
	return nil
}

// reset closes a socket that failed; w.mu is held.
func (w *nlWriter) reset() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

func (w *nlWriter) write(ctx context.Context, tx *nfTx) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rules := 0
	for _, op := range tx.ops {
		if _, ok := op.obj.(*knftables.Rule); ok {
			rules++
		}
	}
	w.rules.generation(rules)
	b := nlBatch{rules: &w.rules}
	if err := b.add(tx.ops); err != nil {
		return err
	}
	if len(b.ops) == 0 {
		return nil
	}
	if err := w.open(); err != nil {
		return err
	}
	err := b.send(ctx, w.fd)
	if ioe := (ioError{}); errors.As(err, &ioe) {
		// The socket itself failed (or we stopped waiting): start afresh.
		w.reset()
	}
	return err
}

// nlBatch is a batch being built: the messages, and the operation each
// one carries (to name it in an error).
type nlBatch struct {
	buf   []byte
	ops   []txOp     // one per message
	rules *ruleCache // nil: none
	// The open element message, while elements of one set follow each
	// other: they share a message, as in nft.
	elems     []byte
	elemsVerb int
	elemsSet  string
	elemsOp   txOp
	elemsBuf  []byte // a finished element message's buffer, for the next
}

// maxElemBytes bounds the elements in one message: a netlink attribute
// length is 16 bits.
const maxElemBytes = 48 << 10

func (b *nlBatch) add(ops []txOp) error {
	for i := 0; i < len(ops); {
		// A run of element adds (or deletes) is written set by set: one
		// message per set instead of one per change of set, as the
		// kernel looks the set up by name in a list for each message.
		// Elements of a run do not depend on each other.
		j := i + 1
		if elementOp(ops[i]) {
			for j < len(ops) && elementOp(ops[j]) && ops[j].verb == ops[i].verb {
				j++
			}
			run := slices.Clone(ops[i:j])
			slices.SortStableFunc(run, func(a, b txOp) int {
				return strings.Compare(elemContainer(a.obj.(*knftables.Element)), elemContainer(b.obj.(*knftables.Element)))
			})
			for _, op := range run {
				if err := b.op(op); err != nil {
					return err
				}
			}
			i = j
			continue
		}
		if err := b.op(ops[i]); err != nil {
			return err
		}
		i = j
	}
	b.endElems()
	return nil
}

func elementOp(op txOp) bool {
	_, ok := op.obj.(*knftables.Element)
	return ok && op.verb != opFlush
}

func elemContainer(e *knftables.Element) string {
	if e.Set != "" {
		return e.Set
	}
	return e.Map
}

func (b *nlBatch) op(op txOp) error {
	if e, ok := op.obj.(*knftables.Element); ok && op.verb != opFlush {
		return b.element(op, e)
	}
	b.endElems()
	switch o := op.obj.(type) {
	case *knftables.Table:
		switch op.verb {
		case opAdd:
			attrs := [][]byte{strAttr(unix.NFTA_TABLE_NAME, tableName), attr(unix.NFTA_TABLE_FLAGS, be32(0))}
			if o.Comment != nil {
				// libnftnl's NFTNL_UDATA_TABLE_COMMENT.
				c := append([]byte(*o.Comment), 0)
				attrs = append(attrs, attr(nftaTableUserdata, append([]byte{0, byte(len(c))}, c...)))
			}
			b.msg(op, unix.NFT_MSG_NEWTABLE, unix.NLM_F_CREATE, attrs...)
		case opDelete:
			b.msg(op, unix.NFT_MSG_DELTABLE, 0, strAttr(unix.NFTA_TABLE_NAME, tableName))
		default:
			return fmt.Errorf("netlink: cannot flush a table")
		}
	case *knftables.Chain:
		id := [][]byte{strAttr(unix.NFTA_CHAIN_TABLE, tableName), strAttr(unix.NFTA_CHAIN_NAME, o.Name)}
		switch op.verb {
		case opAdd:
			if o.Hook != nil {
				hook, prio, err := baseChainHook(o)
				if err != nil {
					return err
				}
				id = append(id, strAttr(unix.NFTA_CHAIN_TYPE, string(*o.Type)),
					attr(unix.NLA_F_NESTED|unix.NFTA_CHAIN_HOOK, append(attr(unix.NFTA_HOOK_HOOKNUM, be32(hook)), attr(unix.NFTA_HOOK_PRIORITY, be32(uint32(prio)))...)))
			}
			b.msg(op, unix.NFT_MSG_NEWCHAIN, unix.NLM_F_CREATE, id...)
		case opFlush:
			b.msg(op, unix.NFT_MSG_DELRULE, 0, strAttr(unix.NFTA_RULE_TABLE, tableName), strAttr(unix.NFTA_RULE_CHAIN, o.Name))
		case opDelete:
			b.msg(op, unix.NFT_MSG_DELCHAIN, 0, id...)
		}
	case *knftables.Set:
		return b.set(op, o.Name, o.Type, o.Timeout)
	case *knftables.Map:
		typ := o.Type
		if o.TypeOf != "" {
			typ = "typeof " + o.TypeOf
		}
		return b.set(op, o.Name, typ, nil)
	case *knftables.Rule:
		if op.verb != opAdd {
			return fmt.Errorf("netlink: rules are only added")
		}
		list, err := b.rules.encode(o.Rule)
		if err != nil {
			return fmt.Errorf("chain %s: %w", o.Chain, err)
		}
		b.msg(op, unix.NFT_MSG_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_APPEND,
			strAttr(unix.NFTA_RULE_TABLE, tableName), strAttr(unix.NFTA_RULE_CHAIN, o.Chain),
			attr(unix.NLA_F_NESTED|unix.NFTA_RULE_EXPRESSIONS, list))
	default:
		return fmt.Errorf("netlink: cannot write %T", op.obj)
	}
	return nil
}

// ruleCache keeps the encoded expressions of rules written lately: a
// full sync writes the same rules again, and parsing and encoding them
// was a fifth of its time at 10,000 Services. Two generations: a write
// with at least half as many rules as the newer one holds (a full sync)
// starts another, so rules no longer written are forgotten.
type ruleCache struct{ cur, old map[string][]byte }

// generation starts a new generation if a write of n rules asks for it.
func (c *ruleCache) generation(n int) {
	if c.cur == nil || n >= len(c.cur)/2 {
		c.old, c.cur = c.cur, map[string][]byte{}
	}
}

// encode returns a rule's expressions as NFTA_RULE_EXPRESSIONS holds them.
// The result is shared: callers only copy it.
func (c *ruleCache) encode(rule string) ([]byte, error) {
	if c == nil {
		c = &ruleCache{cur: map[string][]byte{}}
	}
	if list, ok := c.cur[rule]; ok {
		return list, nil
	}
	if list, ok := c.old[rule]; ok {
		c.cur[rule] = list
		return list, nil
	}
	exprs, err := ruleExprs(rule)
	if err != nil {
		return nil, err
	}
	var list []byte
	for _, e := range exprs {
		data, err := expr.Marshal(nftFamily, e)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rule, err)
		}
		list = append(list, attr(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, data)...)
	}
	c.cur[rule] = list
	return list, nil
}

// baseChainHook gives a base chain's hook number and numeric priority
// ("dstnat-10" is -110).
func baseChainHook(c *knftables.Chain) (uint32, int32, error) {
	hooks := map[knftables.BaseChainHook]uint32{
		knftables.PreroutingHook: unix.NF_INET_PRE_ROUTING, knftables.InputHook: unix.NF_INET_LOCAL_IN,
		knftables.ForwardHook: unix.NF_INET_FORWARD, knftables.OutputHook: unix.NF_INET_LOCAL_OUT,
		knftables.PostroutingHook: unix.NF_INET_POST_ROUTING,
	}
	hook, ok := hooks[*c.Hook]
	if !ok || c.Type == nil || c.Priority == nil {
		return 0, 0, fmt.Errorf("chain %s: hook %q", c.Name, *c.Hook)
	}
	names := map[string]int32{"filter": 0, "dstnat": -100, "srcnat": 100}
	p := string(*c.Priority)
	i := strings.IndexAny(p[1:], "+-") + 1
	if i == 0 {
		i = len(p)
	}
	base, ok := names[p[:i]]
	if !ok {
		n, err := strconv.Atoi(p[:i])
		if err != nil {
			return 0, 0, fmt.Errorf("chain %s: priority %q", c.Name, p)
		}
		base = int32(n)
	}
	if i < len(p) {
		off, err := strconv.Atoi(p[i:])
		if err != nil {
			return 0, 0, fmt.Errorf("chain %s: priority %q", c.Name, p)
		}
		base += int32(off)
	}
	return hook, base, nil
}

// setTypes are the set and map types this package uses, with what nft
// 1.0.6 sends for them: the key's datatype (concatenations packed 6 bits
// per part) and length, the value's, and the user data that tells nft how
// to print them, copied from `nft --debug=mnl`.
var setTypes = map[string]struct {
	keyType, keyLen   uint32
	isMap             bool
	dataType, dataLen uint32
	udata             []byte
}{
	"ipv4_addr":             {keyType: 7, keyLen: 4, udata: []byte{0, 4, 2, 0, 0, 0}},
	"ipv4_addr . ipv4_addr": {keyType: 7<<6 | 7, keyLen: 8, udata: []byte{0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 0x0d, 0, 0, 0, 1, 0}},
	"ipv4_addr . inet_proto . inet_service : verdict": {keyType: (7<<6|12)<<6 | 13, keyLen: 12, isMap: true, dataType: unix.NFT_DATA_VERDICT,
		udata: []byte{0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 3, 8, 0, 4, 0x0d, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0}},
	"inet_proto . inet_service : verdict": {keyType: 12<<6 | 13, keyLen: 8, isMap: true, dataType: unix.NFT_DATA_VERDICT,
		udata: []byte{0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 3, 8, 0, 4, 0x0d, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0}},
	// Key: an integer in host byte order; value: ipv4_addr . inet_service.
	"typeof " + endpointsMapType: {keyType: 4, keyLen: 4, isMap: true, dataType: 7<<6 | 13, dataLen: 8,
		udata: []byte{0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x1a, 0x00, 0x04, 0x17, 0x00,
			0x00, 0x00, 0x01, 0x12, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00,
			0x00, 0x00, 0x04, 0x34, 0x00, 0x04, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x14, 0x00, 0x04, 0x07, 0x00, 0x00, 0x00,
			0x01, 0x0c, 0x00, 0x04, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x04, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x00, 0x04, 0x07, 0x00,
			0x00, 0x00, 0x01, 0x0c, 0x00, 0x04, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x04, 0x02, 0x00, 0x00, 0x00, 0x06, 0x04, 0x00, 0x00,
			0x00, 0x00}},
}

// set adds, flushes or deletes a set or map. Added sets are the fixed
// ones (setTypes) or affinity sets (ipv4_addr, dynamic, with a timeout).
func (b *nlBatch) set(op txOp, name, typ string, timeout *time.Duration) error {
	id := [][]byte{strAttr(unix.NFTA_SET_TABLE, tableName), strAttr(unix.NFTA_SET_NAME, name)}
	switch op.verb {
	case opFlush:
		b.msg(op, unix.NFT_MSG_DELSETELEM, 0, strAttr(unix.NFTA_SET_ELEM_LIST_TABLE, tableName), strAttr(unix.NFTA_SET_ELEM_LIST_SET, name))
		return nil
	case opDelete:
		b.msg(op, unix.NFT_MSG_DELSET, 0, id...)
		return nil
	}
	st, ok := setTypes[typ]
	if !ok {
		return fmt.Errorf("set %s: type %q not known to the netlink writer", name, typ)
	}
	var flags uint32
	if st.isMap {
		flags |= unix.NFT_SET_MAP
	}
	if timeout != nil {
		// dynamic: the packet path adds elements ("update @set").
		flags |= unix.NFT_SET_TIMEOUT | unix.NFT_SET_EVAL
	}
	attrs := append(id, attr(unix.NFTA_SET_FLAGS, be32(flags)),
		attr(unix.NFTA_SET_KEY_TYPE, be32(st.keyType)), attr(unix.NFTA_SET_KEY_LEN, be32(st.keyLen)))
	if st.isMap {
		attrs = append(attrs, attr(unix.NFTA_SET_DATA_TYPE, be32(st.dataType)), attr(unix.NFTA_SET_DATA_LEN, be32(st.dataLen)))
	}
	attrs = append(attrs, attr(unix.NFTA_SET_ID, be32(nlSetID.Add(1))))
	if timeout != nil {
		attrs = append(attrs, attr(unix.NFTA_SET_TIMEOUT, be64(uint64(timeout.Milliseconds()))))
	}
	attrs = append(attrs, attr(unix.NFTA_SET_USERDATA, st.udata))
	b.msg(op, unix.NFT_MSG_NEWSET, unix.NLM_F_CREATE, attrs...)
	return nil
}

// element adds one element add or delete to the open element message of
// its set, or starts one.
func (b *nlBatch) element(op txOp, e *knftables.Element) error {
	container := elemContainer(e)
	verb := unix.NFT_MSG_NEWSETELEM
	if op.verb == opDelete {
		verb = unix.NFT_MSG_DELSETELEM
	}
	if b.elems != nil && (b.elemsVerb != verb || b.elemsSet != container || len(b.elems) > maxElemBytes) {
		b.endElems()
	}
	if b.elems == nil {
		b.elems, b.elemsVerb, b.elemsSet, b.elemsOp = b.elemsBuf[:0], verb, container, op
	}
	// Encoded in place: a full sync has tens of thousands of elements.
	var scratch [16]byte
	var key []byte
	var err error
	if isEndpointsMap(container) {
		// The key is what numgen gives: 32 bits in host byte order.
		var n uint64
		if len(e.Key) == 1 {
			n, err = strconv.ParseUint(e.Key[0], 10, 32)
		} else {
			err = fmt.Errorf("key %q", e.Key)
		}
		key = binary.NativeEndian.AppendUint32(scratch[:0], uint32(n))
	} else {
		key, err = appendKey(scratch[:0], e.Key...)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", container, err)
	}
	buf, item := beginAttr(b.elems, unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM)
	buf, k := beginAttr(buf, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY)
	buf = endAttr(appendAttr(buf, unix.NFTA_DATA_VALUE, key), k)
	switch {
	case op.verb != opAdd || e.Map == "":
	case isEndpointsMap(container):
		// "address . port"
		if len(e.Value) != 1 {
			return fmt.Errorf("%s: value %q", container, e.Value)
		}
		addr, port, _ := strings.Cut(e.Value[0], " . ")
		data, err := appendKey(scratch[:0], addr, port)
		if err != nil {
			return fmt.Errorf("%s: %w", container, err)
		}
		buf, d := beginAttr(buf, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_DATA)
		buf = endAttr(appendAttr(buf, unix.NFTA_DATA_VALUE, data), d)
		b.elems = endAttr(buf, item)
		return nil
	default:
		if len(e.Value) != 1 {
			return fmt.Errorf("%s: verdict %q", container, e.Value)
		}
		v, err := verdict(e.Value[0])
		if err != nil {
			return fmt.Errorf("%s: %w", container, err)
		}
		buf, d := beginAttr(buf, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_DATA)
		buf, vd := beginAttr(buf, unix.NLA_F_NESTED|unix.NFTA_DATA_VERDICT)
		buf = appendAttr(buf, unix.NFTA_VERDICT_CODE, binary.BigEndian.AppendUint32(scratch[:0], uint32(int32(v.Kind))))
		if v.Chain != "" {
			buf, c := beginAttr(buf, unix.NFTA_VERDICT_CHAIN)
			buf = append(append(buf, v.Chain...), 0)
			buf = endAttr(buf, c)
			b.elems = endAttr(endAttr(endAttr(buf, vd), d), item)
			return nil
		}
		b.elems = endAttr(endAttr(endAttr(buf, vd), d), item)
		return nil
	}
	b.elems = endAttr(buf, item)
	return nil
}

// endElems closes the open element message, if any.
func (b *nlBatch) endElems() {
	if b.elems == nil {
		return
	}
	var flags uint16
	if b.elemsVerb == unix.NFT_MSG_NEWSETELEM {
		flags = unix.NLM_F_CREATE
	}
	b.msg(b.elemsOp, b.elemsVerb, flags,
		strAttr(unix.NFTA_SET_ELEM_LIST_TABLE, tableName), strAttr(unix.NFTA_SET_ELEM_LIST_SET, b.elemsSet),
		attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_LIST_ELEMENTS, b.elems))
	b.elemsBuf, b.elems = b.elems, nil // copied into b.buf; reused
}

// appendKey appends a set key as the kernel stores it: each part in
// network byte order, padded to 4 bytes (nftables registers are 32 bits).
func appendKey(out []byte, parts ...string) ([]byte, error) {
	for _, p := range parts {
		if a, err := netip.ParseAddr(p); err == nil && a.Is4() {
			b := a.As4()
			out = append(out, b[:]...)
			continue
		}
		if proto, ok := l4protos[p]; ok {
			out = append(out, proto, 0, 0, 0)
			continue
		}
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			out = append(out, byte(n>>8), byte(n), 0, 0)
			continue
		}
		return nil, fmt.Errorf("key part %q: not an IPv4 address, protocol or port", p)
	}
	return out, nil
}

var l4protos = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// msg appends one nftables message; send numbers the messages and adds
// the batch framing.
func (b *nlBatch) msg(op txOp, typ int, flags uint16, attrs ...[]byte) {
	b.ops = append(b.ops, op)
	b.buf = appendMsg(b.buf, uint16(unix.NFNL_SUBSYS_NFTABLES<<8|typ), unix.NLM_F_REQUEST|flags, 0, nftFamily, attrs...)
}

// describe names the operation a message carried, for errors.
func describe(op txOp) string {
	verb := [...]string{opAdd: "add", opFlush: "flush", opDelete: "delete"}[op.verb]
	switch o := op.obj.(type) {
	case *knftables.Table:
		return verb + " table"
	case *knftables.Chain:
		return verb + " chain " + o.Name
	case *knftables.Set:
		return verb + " set " + o.Name
	case *knftables.Map:
		return verb + " map " + o.Name
	case *knftables.Rule:
		return verb + " rule " + o.Chain + " " + o.Rule
	case *knftables.Element:
		return verb + " element(s) of " + o.Set + o.Map + ", from { " + strings.Join(o.Key, " . ") + " }"
	}
	return verb
}

func appendMsg(buf []byte, typ, flags uint16, seq uint32, family byte, attrs ...[]byte) []byte {
	start := len(buf)
	buf = binary.NativeEndian.AppendUint32(buf, 0) // length, below
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	buf = binary.NativeEndian.AppendUint16(buf, flags)
	buf = binary.NativeEndian.AppendUint32(buf, seq)
	buf = binary.NativeEndian.AppendUint32(buf, 0) // port: the kernel's
	buf = append(buf, family, unix.NFNETLINK_V0, 0, 0)
	if typ == unix.NFNL_MSG_BATCH_BEGIN || typ == unix.NFNL_MSG_BATCH_END {
		binary.BigEndian.PutUint16(buf[len(buf)-2:], unix.NFNL_SUBSYS_NFTABLES)
	}
	for _, a := range attrs {
		buf = append(buf, a...)
	}
	binary.NativeEndian.PutUint32(buf[start:], uint32(len(buf)-start))
	return buf
}

// send writes the batch and waits for the kernel's answer. The kernel
// handles a batch inside the sendmsg call; only the last message asks for
// an acknowledgement, so a successful batch of any size produces one
// reply. Errors come as replies to the message that failed, or, when the
// commit itself fails, to the batch's first message.
func (b *nlBatch) send(ctx context.Context, fd int) error {
	// Sequence numbers: begin, then one per message, then the end.
	n := uint32(len(b.ops))
	begin := nlSeq.Add(n+2) - n - 2
	first, lastSeq := begin+1, begin+n
	var out []byte
	out = appendMsg(out, unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, begin, unix.AF_UNSPEC)
	for off, seq := 0, first; off < len(b.buf); seq++ {
		binary.NativeEndian.PutUint32(b.buf[off+8:], seq)
		if seq == lastSeq {
			// Ask for an acknowledgement of the last message only.
			binary.NativeEndian.PutUint16(b.buf[off+6:], binary.NativeEndian.Uint16(b.buf[off+6:])|unix.NLM_F_ACK)
		}
		off += (int(binary.NativeEndian.Uint32(b.buf[off:])) + 3) &^ 3
	}
	out = append(out, b.buf...)
	out = appendMsg(out, unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, lastSeq+1, unix.AF_UNSPEC)

	// The kernel takes a batch in one message, which must fit the send
	// buffer (nft raises it the same way).
	if need := len(out) + 4096; need > 200<<10 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, need); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, need)
		}
	}
	wait := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = max(time.Until(d), time.Millisecond)
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send of %d messages (%d bytes): %w", len(b.ops), len(out), ioError{err})
	}

	var errs []error
	rbuf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return errors.Join(append(errs, fmt.Errorf("netlink receive: %w", ioError{err}))...)
		}
		msgs, err := syscall.ParseNetlinkMessage(rbuf[:n])
		if err != nil {
			return fmt.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			seq := m.Header.Seq
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 || seq-begin > lastSeq-begin {
				// Not an answer to this batch (a late one to an
				// earlier batch we stopped reading).
				continue
			}
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				what := "commit"
				if i := int(seq - first); seq != begin && i >= 0 && i < len(b.ops) {
					what = describe(b.ops[i])
				}
				errs = append(errs, fmt.Errorf("%s: %w", what, unix.Errno(errno)))
				if seq == begin {
					// A failed commit is reported first, then the
					// queued replies; the acknowledgement of the last
					// message may still follow, but is not needed.
					return errors.Join(errs...)
				}
			}
			if seq == lastSeq {
				return errors.Join(errs...)
			}
		}
	}
}

// ioError marks a failure of the socket itself, as opposed to the
// kernel refusing the batch (an errno in a reply).
type ioError struct{ err error }

func (e ioError) Error() string { return e.err.Error() }
func (e ioError) Unwrap() error { return e.err }

// beginAttr starts a (nested) attribute at the end of buf; endAttr, given
// what beginAttr returned, sets its length and pads it.
func beginAttr(buf []byte, typ uint16) ([]byte, int) {
	start := len(buf)
	buf = binary.NativeEndian.AppendUint16(buf, 0)
	return binary.NativeEndian.AppendUint16(buf, typ), start
}

func endAttr(buf []byte, start int) []byte {
	binary.NativeEndian.PutUint16(buf[start:], uint16(len(buf)-start))
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	return buf
}

func appendAttr(buf []byte, typ uint16, data []byte) []byte {
	buf, start := beginAttr(buf, typ)
	return endAttr(append(buf, data...), start)
}

func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	out := make([]byte, 4, (l+3)&^3)
	binary.NativeEndian.PutUint16(out, uint16(l))
	binary.NativeEndian.PutUint16(out[2:], typ)
	out = append(out, data...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

func strAttr(typ uint16, s string) []byte { return attr(typ, append([]byte(s), 0)) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
