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

	"sigs.k8s.io/knftables"
)

// goldenScript splits a golden file into what nft must create first
// (table, chains, fixed sets and maps) and the rest as a txPhases for
// nlWriter: affinity sets, every rule and every element.
func goldenScript(t *testing.T, path string) (nftPart string, nl *txPhases) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nl = &txPhases{}
	var nftLines []string
	prefix := "ip " + tableName + " "
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		verb, rest, _ := strings.Cut(line, " "+prefix)
		switch verb {
		case "add rule":
			chain, rule, _ := strings.Cut(rest, " ")
			nl.rules = append(nl.rules, &knftables.Rule{Chain: chain, Rule: rule})
		case "add element":
			name, body, _ := strings.Cut(rest, " ")
			body = strings.TrimSuffix(strings.TrimPrefix(body, "{ "), " }")
			key, value, isMap := strings.Cut(body, " : ")
			e := &knftables.Element{Set: name, Key: strings.Split(key, " . ")}
			if isMap {
				e = &knftables.Element{Map: name, Key: e.Key, Value: []string{value}}
			}
			nl.elemAdds = append(nl.elemAdds, e)
		case "add set":
			if name, _, _ := strings.Cut(rest, " "); isAffinitySet(name) {
				_, after, _ := strings.Cut(rest, "; timeout ")
				d, err := time.ParseDuration(strings.Fields(after)[0])
				if err != nil {
					t.Fatalf("%s: %s: %v", path, line, err)
				}
				nl.setAdds = append(nl.setAdds, affinitySet(name, int(d/time.Second)))
				continue
			}
			nftLines = append(nftLines, line)
		default:
			nftLines = append(nftLines, line)
		}
	}
	return strings.Join(nftLines, "\n") + "\n", nl
}

// TestRuleExprsCoverGoldens: every rule and element the golden tables
// hold can be written over netlink.
func TestRuleExprsCoverGoldens(t *testing.T) {
	goldens, _ := filepath.Glob("testdata/*.nft")
	for _, g := range goldens {
		_, nl := goldenScript(t, g)
		var b nlBatch
		if err := b.add(nl); err != nil {
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
// golden table, written once by nft and once with its rules, elements and
// affinity sets over netlink, lists the same.
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
	for _, g := range goldens {
		drop()
		b, _ := os.ReadFile(g)
		nftRun(string(b))
		want := list()
		drop()
		nftPart, nl := goldenScript(t, g)
		nftRun(nftPart)
		if err := (nlWriter{}).write(ctx, nl); err != nil {
			t.Errorf("%s over netlink: %v", g, err)
			continue
		}
		if got := list(); normalizeListing(got) != normalizeListing(want) {
			t.Errorf("%s: over netlink the table lists as\n%s\nwant (nft)\n%s", g, got, want)
		}
	}
	// A batch the kernel refuses is refused whole, with the reason.
	drop()
	nftRun("add table ip " + tableName + "\nadd chain ip " + tableName + " a\n")
	bad := &txPhases{}
	bad.addChain("b")
	bad.writeRules("a", []string{"goto b"})
	bad.writeRules("a", []string{"goto missing"})
	err := (nlWriter{}).write(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "goto missing") {
		t.Errorf("batch with a jump to a missing chain: err %v; want it named", err)
	}
	if out := list(); strings.Contains(out, "chain b") {
		t.Errorf("a refused batch left part of itself:\n%s", out)
	}
}
