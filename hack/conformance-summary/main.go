// Command conformance-summary reads ginkgo JSON reports of upstream's
// conformance suite (report.json from ../shared/conformance/run.sh) and
// prints passed and failed specs per SIG, then every failed spec.
//
//	go run ./hack/conformance-summary WORK/results/NAME/report.json...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// specReport is the part of ginkgo's types.SpecReport used here.
type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
}

type suiteReport struct {
	SpecReports []specReport
}

var sigRE = regexp.MustCompile(`\[sig-[a-z-]+\]`)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance-summary report.json...")
		os.Exit(2)
	}
	type count struct{ passed, failed int }
	counts := map[string]*count{}
	var failed []string
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var suites []suiteReport
		if err := json.Unmarshal(data, &suites); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		for _, s := range suites {
			for _, r := range s.SpecReports {
				if r.LeafNodeType != "It" {
					continue
				}
				name := strings.Join(append(r.ContainerHierarchyTexts, r.LeafNodeText), " ")
				sig := sigRE.FindString(name)
				if sig == "" {
					sig = "[other]"
				}
				c := counts[sig]
				if c == nil {
					c = &count{}
					counts[sig] = c
				}
				switch r.State {
				case "passed":
					c.passed++
				case "failed", "panicked", "timedout", "interrupted", "aborted":
					c.failed++
					failed = append(failed, name)
				}
			}
		}
	}
	sigs := make([]string, 0, len(counts))
	for s := range counts {
		sigs = append(sigs, s)
	}
	sort.Strings(sigs)
	var tp, tf int
	for _, s := range sigs {
		c := counts[s]
		if c.passed+c.failed == 0 {
			continue // every spec of it skipped
		}
		fmt.Printf("%-28s %4d passed %4d failed\n", s, c.passed, c.failed)
		tp, tf = tp+c.passed, tf+c.failed
	}
	fmt.Printf("%-28s %4d passed %4d failed\n", "total", tp, tf)
	sort.Strings(failed)
	for _, f := range failed {
		fmt.Println("FAILED:", f)
	}
}
