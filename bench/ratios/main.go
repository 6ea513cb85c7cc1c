// Command ratios reads the output of interleaved benchmark rounds (the same
// test binary run several times with -test.count 1, appended to one file)
// and prints, for every benchmark with an impl=gate sub-benchmark, gate's
// median time (and the B/op and allocs/op of its last round) and, for each other impl, the median and range of the per-round
// ratio gate/impl. Ratios taken within one round cancel the machine's drift
// between rounds, which on a shared 2-core VM is larger than most of the
// differences being measured.
//
//	go run ./ratios results/core-2core-interleaved.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+)/impl=([^\s-]+)(-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

type sample struct {
	ns            float64
	bytes, allocs string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ratios FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	runs := map[string]map[string][]sample{} // bench -> impl -> one sample per round
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		bench, impl := m[1]+m[3], m[2]
		ns, _ := strconv.ParseFloat(m[4], 64)
		if runs[bench] == nil {
			runs[bench] = map[string][]sample{}
			order = append(order, bench)
		}
		runs[bench][impl] = append(runs[bench][impl], sample{ns, m[5], m[6]})
	}
	for _, bench := range order {
		gate := runs[bench]["gate"]
		if len(gate) == 0 {
			continue
		}
		var b strings.Builder
		last := gate[len(gate)-1]
		fmt.Fprintf(&b, "%s: gate %.1f ns, %s B/op, %s allocs/op", bench, median(times(gate)), last.bytes, last.allocs)
		impls := make([]string, 0, len(runs[bench]))
		for impl := range runs[bench] {
			if impl != "gate" {
				impls = append(impls, impl)
			}
		}
		slices.Sort(impls)
		for _, impl := range impls {
			base := runs[bench][impl]
			n := min(len(gate), len(base))
			r := make([]float64, n)
			for i := range n {
				r[i] = gate[i].ns / base[i].ns
			}
			slices.Sort(r)
			fmt.Fprintf(&b, " | %s %.1f ns: %.2f× [%.2f–%.2f] n=%d", impl, median(times(base)), median(r), r[0], r[n-1], n)
		}
		fmt.Println(b.String())
	}
}

func times(s []sample) []float64 {
	t := make([]float64, len(s))
	for i, x := range s {
		t[i] = x.ns
	}
	return t
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
