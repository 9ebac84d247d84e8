package proxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// goldenTx reads a golden file (the knftables fake's dump, an nft
// script) back into the operations that wrote it.
func goldenTx(t *testing.T, path string) *nfTx {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tx := &nfTx{}
	prefix := " ip " + tableName
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		verb, rest, _ := strings.Cut(line, prefix)
		rest = strings.TrimPrefix(rest, " ")
		name, def, _ := strings.Cut(rest, " ")
		// def is "{ a ; b ; }" for tables, base chains, sets and maps.
		field := func(key string) string {
			for _, f := range strings.Split(strings.Trim(def, "{} "), ";") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(f), key+" "); ok {
					return v
				}
			}
			return ""
		}
		switch verb {
		case "add table":
			tbl := &knftables.Table{}
			if c := field("comment"); c != "" {
				tbl.Comment = ptr.To(strings.Trim(c, `"`))
			}
			tx.add(tbl)
		case "add chain":
			c := &knftables.Chain{Name: name}
			if typ := field("type"); typ != "" {
				// "nat hook prerouting priority -100"
				f := strings.Fields(typ)
				c.Type, c.Hook, c.Priority = ptr.To(knftables.BaseChainType(f[0])), ptr.To(knftables.BaseChainHook(f[2])), ptr.To(knftables.BaseChainPriority(f[4]))
			}
			tx.add(c)
		case "add set":
			if to := field("timeout"); to != "" {
				d, err := time.ParseDuration(to)
				if err != nil {
					t.Fatalf("%s: %s: %v", path, line, err)
				}
				tx.add(affinitySet(name, int(d/time.Second)))
				continue
			}
			tx.add(&knftables.Set{Name: name, Type: field("type")})
		case "add map":
			tx.add(&knftables.Map{Name: name, Type: field("type"), TypeOf: field("typeof")})
		case "add rule":
			tx.add(&knftables.Rule{Chain: name, Rule: def})
		case "add element":
			body := strings.TrimSuffix(strings.TrimPrefix(def, "{ "), " }")
			key, value, isMap := strings.Cut(body, " : ")
			e := &knftables.Element{Set: name, Key: strings.Split(key, " . ")}
			if isMap {
				e = &knftables.Element{Map: name, Key: e.Key, Value: []string{value}}
			}
			tx.add(e)
		default:
			t.Fatalf("%s: cannot read %q", path, line)
		}
	}
	return tx
}

// TestRuleExprsCoverGoldens: every rule and element the golden tables
// hold can be written over netlink.
func TestRuleExprsCoverGoldens(t *testing.T) {
	goldens, _ := filepath.Glob("testdata/*.nft")
	for _, g := range goldens {
		var b nlBatch
		if err := b.add(goldenTx(t, g).ops); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	for _, bad := range []string{"ip saddr 10.0.0.0/8 counter", "meta l4proto gre", "dnat to [::1]:80", "ip daddr . ip saddr != 1.2.3.4"} {
		if _, err := ruleExprs(bad); err == nil {
			t.Errorf("ruleExprs(%q) accepted a form it does not know", bad)
		}
	}
}

// normalizeListing sorts the sets, maps and chains of an `nft list
// table`, which come in the order they were made.
func normalizeListing(s string) string {
	var blocks []string
	for _, l := range strings.Split(s, "\n") {
		if len(blocks) == 0 || strings.HasPrefix(l, "\tset ") || strings.HasPrefix(l, "\tmap ") || strings.HasPrefix(l, "\tchain ") {
			blocks = append(blocks, "")
		}
		if strings.TrimSpace(l) != "" && l != "}" {
			blocks[len(blocks)-1] += l + "\n"
		}
	}
	sort.Strings(blocks[1:])
	return strings.Join(blocks, "")
}

// testNetlinkMatchesNft (real kernel, from TestRealNftablesHelper): each
// golden table, written once by nft and once over netlink, lists the
// same.
func testNetlinkMatchesNft(t *testing.T, goldens []string) {
	ctx := context.Background()
	list := func() string {
		out, err := exec.Command("nft", "list", "table", "ip", tableName).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		return string(out)
	}
	nftRun := func(script string) {
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft -f: %v: %s", err, out)
		}
	}
	drop := func() { _ = exec.Command("nft", "delete", "table", "ip", tableName).Run() }
	defer drop()
	nl := newNLWriter()
	defer nl.close()
	for _, g := range goldens {
		drop()
		b, _ := os.ReadFile(g)
		nftRun(string(b))
		want := list()
		drop()
		if err := nl.write(ctx, goldenTx(t, g)); err != nil {
			t.Errorf("%s over netlink: %v", g, err)
			continue
		}
		if got := list(); normalizeListing(got) != normalizeListing(want) {
			t.Errorf("%s: over netlink the table lists as\n%s\nwant (nft)\n%s", g, got, want)
		}
	}
	// Forms the goldens lack: prefixes off and on byte boundaries, other
	// protocols.
	extra := filepath.Join(t.TempDir(), "extra.nft")
	script := "add table ip " + tableName + "\nadd chain ip " + tableName + " c\nadd chain ip " + tableName + " d\n" +
		"add map ip " + tableName + " endpoints-0 { typeof numgen random mod 1 : ip daddr . th dport ; }\n"
	for _, r := range []string{
		"ip saddr 10.42.0.0/15 goto d", "ip saddr 10.0.0.0/8 goto d", "ip saddr 10.42.7.0/24 goto d",
		"ip saddr != 10.42.0.0/17 jump d", "ip daddr 10.43.0.7 drop", "ip saddr 0.0.0.0/0 goto d",
		"meta l4proto udp dnat to 10.42.0.5:53", "meta l4proto sctp dnat ip to numgen random mod 7 offset 9 map @endpoints-0",
	} {
		script += "add rule ip " + tableName + " c " + r + "\n"
	}
	if err := os.WriteFile(extra, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	goldens = []string{extra}
	for _, g := range goldens {
		drop()
		b, _ := os.ReadFile(g)
		nftRun(string(b))
		want := list()
		drop()
		if err := nl.write(ctx, goldenTx(t, g)); err != nil {
			t.Errorf("%s over netlink: %v", script, err)
			continue
		}
		if got := list(); normalizeListing(got) != normalizeListing(want) {
			t.Errorf("over netlink the table lists as\n%s\nwant (nft)\n%s", got, want)
		}
	}
	// A batch the kernel refuses is refused whole, with the reason.
	drop()
	nftRun("add table ip " + tableName + "\nadd chain ip " + tableName + " a\n")
	bad := &txPhases{}
	bad.addChain("b")
	bad.writeRules("a", []string{"goto b"})
	bad.writeRules("a", []string{"goto missing"})
	var tx nfTx
	bad.into(&tx)
	err := nl.write(ctx, &tx)
	if err == nil || !strings.Contains(err.Error(), "goto missing") {
		t.Errorf("batch with a jump to a missing chain: err %v; want it named", err)
	}
	if out := list(); strings.Contains(out, "chain b") {
		t.Errorf("a refused batch left part of itself:\n%s", out)
	}
}
