package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
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
type nlWriter struct{}

var _ txWriter = nlWriter{}

// nftWriter runs transactions through knftables (the nft binary, or its
// fake in unit tests).
type nftWriter struct{ nft knftables.Interface }

var _ txWriter = nftWriter{}

func (w nftWriter) write(ctx context.Context, t *txPhases) error {
	tx := w.nft.NewTransaction()
	t.into(tx)
	if tx.NumOperations() == 0 {
		return nil
	}
	return w.nft.Run(ctx, tx)
}

// nlSeq numbers netlink messages across writers, so replies can be told
// apart from those of an earlier batch.
var nlSeq atomic.Uint32

const nftFamily = unix.NFPROTO_IPV4

func (nlWriter) write(ctx context.Context, t *txPhases) error {
	var b nlBatch
	if err := b.add(t); err != nil {
		return err
	}
	if b.n == 0 {
		return nil
	}
	return b.send(ctx)
}

// nlBatch is a batch being built: messages, and what each one was (for
// error messages).
type nlBatch struct {
	buf   []byte
	n     int
	first uint32
	what  map[uint32]string
}

func (b *nlBatch) add(t *txPhases) error {
	for _, o := range t.elemDeletes {
		if err := b.elements(unix.NFT_MSG_DELSETELEM, o.(*knftables.Element)); err != nil {
			return err
		}
	}
	for i, o := range t.chains {
		name := o.(*knftables.Chain).Name
		if t.chainVerbs[i] {
			b.msg(unix.NFT_MSG_DELRULE, 0, "flush chain "+name, strAttr(unix.NFTA_RULE_TABLE, tableName), strAttr(unix.NFTA_RULE_CHAIN, name))
		} else {
			b.msg(unix.NFT_MSG_NEWCHAIN, unix.NLM_F_CREATE, "add chain "+name, strAttr(unix.NFTA_CHAIN_TABLE, tableName), strAttr(unix.NFTA_CHAIN_NAME, name))
		}
	}
	for _, o := range t.setDeletes {
		name := o.(*knftables.Set).Name
		b.msg(unix.NFT_MSG_DELSET, 0, "delete set "+name, strAttr(unix.NFTA_SET_TABLE, tableName), strAttr(unix.NFTA_SET_NAME, name))
	}
	for _, o := range t.setAdds {
		if err := b.affinitySet(o.(*knftables.Set)); err != nil {
			return err
		}
	}
	for _, o := range t.rules {
		r := o.(*knftables.Rule)
		exprs, err := ruleExprs(r.Rule)
		if err != nil {
			return fmt.Errorf("chain %s: %w", r.Chain, err)
		}
		var list []byte
		for _, e := range exprs {
			data, err := expr.Marshal(nftFamily, e)
			if err != nil {
				return fmt.Errorf("rule %q: %w", r.Rule, err)
			}
			list = append(list, attr(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, data)...)
		}
		b.msg(unix.NFT_MSG_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_APPEND, "add rule "+r.Chain+" "+r.Rule,
			strAttr(unix.NFTA_RULE_TABLE, tableName), strAttr(unix.NFTA_RULE_CHAIN, r.Chain),
			attr(unix.NLA_F_NESTED|unix.NFTA_RULE_EXPRESSIONS, list))
	}
	for _, o := range t.elemAdds {
		if err := b.elements(unix.NFT_MSG_NEWSETELEM, o.(*knftables.Element)); err != nil {
			return err
		}
	}
	for _, name := range t.chainDeletes {
		b.msg(unix.NFT_MSG_DELCHAIN, 0, "delete chain "+name, strAttr(unix.NFTA_CHAIN_TABLE, tableName), strAttr(unix.NFTA_CHAIN_NAME, name))
	}
	return nil
}

// affinitySet is `add set … { type ipv4_addr ; flags dynamic,timeout ;
// timeout Ns ; }` as nft sends it.
func (b *nlBatch) affinitySet(s *knftables.Set) error {
	if s.Type != "ipv4_addr" || s.Timeout == nil {
		return fmt.Errorf("set %s: only affinity sets (ipv4_addr with a timeout) are written over netlink", s.Name)
	}
	id := be32(nlSeq.Add(1))
	// nft's user data: key byte order big endian (libnftnl's
	// NFTNL_UDATA_SET_KEYBYTEORDER = 0, BYTEORDER_BIG_ENDIAN = 2).
	udata := []byte{0, 4, 2, 0, 0, 0}
	b.msg(unix.NFT_MSG_NEWSET, unix.NLM_F_CREATE, "add set "+s.Name,
		strAttr(unix.NFTA_SET_TABLE, tableName), strAttr(unix.NFTA_SET_NAME, s.Name),
		attr(unix.NFTA_SET_FLAGS, be32(unix.NFT_SET_TIMEOUT|unix.NFT_SET_EVAL)),
		attr(unix.NFTA_SET_KEY_TYPE, be32(7)), // ipv4_addr
		attr(unix.NFTA_SET_KEY_LEN, be32(4)),
		attr(unix.NFTA_SET_ID, id),
		attr(unix.NFTA_SET_TIMEOUT, be64(uint64(s.Timeout.Milliseconds()))),
		attr(unix.NFTA_SET_USERDATA, udata))
	return nil
}

// elements writes one element add or delete.
func (b *nlBatch) elements(verb int, e *knftables.Element) error {
	container := e.Set
	if container == "" {
		container = e.Map
	}
	key, err := elemKeyBytes(e.Key)
	if err != nil {
		return fmt.Errorf("%s: %w", container, err)
	}
	item := attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY, attr(unix.NFTA_DATA_VALUE, key))
	if e.Map != "" && verb == unix.NFT_MSG_NEWSETELEM {
		if len(e.Value) != 1 {
			return fmt.Errorf("%s: verdict %q", container, e.Value)
		}
		v, err := verdict(e.Value[0])
		if err != nil {
			return fmt.Errorf("%s: %w", container, err)
		}
		vd := attr(unix.NFTA_VERDICT_CODE, be32(uint32(int32(v.Kind))))
		if v.Chain != "" {
			vd = append(vd, strAttr(unix.NFTA_VERDICT_CHAIN, v.Chain)...)
		}
		item = append(item, attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_DATA, attr(unix.NLA_F_NESTED|unix.NFTA_DATA_VERDICT, vd))...)
	}
	what := "add element "
	flags := uint16(unix.NLM_F_CREATE)
	if verb == unix.NFT_MSG_DELSETELEM {
		what, flags = "delete element ", 0
	}
	b.msg(verb, flags, what+container+" { "+strings.Join(e.Key, " . ")+" }",
		strAttr(unix.NFTA_SET_ELEM_LIST_TABLE, tableName), strAttr(unix.NFTA_SET_ELEM_LIST_SET, container),
		attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_LIST_ELEMENTS, attr(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, item)))
	return nil
}

// elemKeyBytes encodes a set key as the kernel stores it: each part in
// network byte order, padded to 4 bytes (nftables registers are 32 bits).
func elemKeyBytes(parts []string) ([]byte, error) {
	var out []byte
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

// msg appends one nftables message; the batch framing is added by send.
func (b *nlBatch) msg(typ int, flags uint16, what string, attrs ...[]byte) {
	seq := nlSeq.Add(1)
	if b.n == 0 {
		b.first = seq
		b.what = map[uint32]string{}
	}
	b.n++
	b.what[seq] = what
	b.buf = appendMsg(b.buf, uint16(unix.NFNL_SUBSYS_NFTABLES<<8|typ), unix.NLM_F_REQUEST|flags, seq, nftFamily, attrs...)
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
func (b *nlBatch) send(ctx context.Context) error {
	begin := b.first - 1
	var out []byte
	out = appendMsg(out, unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, begin, unix.AF_UNSPEC)
	// Ask for an acknowledgement of the last nftables message.
	last := b.buf[lastMsgOffset(b.buf):]
	lastSeq := binary.NativeEndian.Uint32(last[8:])
	binary.NativeEndian.PutUint16(last[6:], binary.NativeEndian.Uint16(last[6:])|unix.NLM_F_ACK)
	out = append(out, b.buf...)
	out = appendMsg(out, unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, lastSeq+1, unix.AF_UNSPEC)

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	// The kernel takes a batch in one message, which must fit the send
	// buffer (nft raises it the same way).
	if need := len(out) + 4096; need > 200<<10 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, need); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, need)
		}
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	wait := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = max(time.Until(d), time.Millisecond)
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send of %d messages (%d bytes): %w", b.n, len(out), err)
	}

	var errs []error
	rbuf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return errors.Join(append(errs, fmt.Errorf("netlink receive: %w", err))...)
		}
		msgs, err := syscall.ParseNetlinkMessage(rbuf[:n])
		if err != nil {
			return fmt.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			seq := m.Header.Seq
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				what := b.what[seq]
				if seq == begin {
					what = "commit"
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

// lastMsgOffset finds where the last message in buf starts.
func lastMsgOffset(buf []byte) int {
	off := 0
	for {
		l := int(binary.NativeEndian.Uint32(buf[off:]))
		if off+l >= len(buf) {
			return off
		}
		off += (l + 3) &^ 3
	}
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
