package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Temporary tuning harness (not committed).
func TestTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	th, _ := strconv.Atoi(os.Getenv("TH"))
	if th == 0 {
		th = 1
	}
	defer SetThreads(Threads())
	SetThreads(th)
	p, _ := ParsePath(os.Getenv("P"))
	defer SetPath(p)()
	base := kernelSets[p]
	// configs: "kc,mc,nc,directA,bBudget;..."
	var cfgs []kernelSet
	for _, cs := range strings.Split(os.Getenv("CFG"), ";") {
		ks := base
		if cs != "" {
			var v [5]int
			for i, f := range strings.Split(cs, ",") {
				v[i], _ = strconv.Atoi(f)
			}
			ks.kc, ks.mc, ks.nc, ks.bBudget = v[0], v[1], v[2], v[4]
			ks.packPanels = v[3]
		}
		cfgs = append(cfgs, ks)
	}
	shapes := cnnShapes
	if f := os.Getenv("SHAPES"); f != "" {
		shapes = nil
		for _, s := range cnnShapes {
			if strings.Contains(s.name, f) {
				shapes = append(shapes, s)
			}
		}
	}
	if f := os.Getenv("SHAPE"); f != "" {
		shapes = shapes[:0:0]
		for _, one := range strings.Split(f, ";") {
			var v [5]int
			for i, x := range strings.Split(one, ",") {
				v[i], _ = strconv.Atoi(x)
			}
			shapes = append(shapes, struct {
				name           string
				transA, transB bool
				m, n, k        int
			}{one, v[3] != 0, v[4] != 0, v[0], v[1], v[2]})
		}
	}
	reps, _ := strconv.Atoi(os.Getenv("REPS"))
	if reps == 0 {
		reps = 7
	}
	for _, s := range shapes {
		r := rand.New(rand.NewPCG(1, 2))
		ar, ac := s.m, s.k
		if s.transA {
			ar, ac = s.k, s.m
		}
		br, bc := s.k, s.n
		if s.transB {
			br, bc = s.n, s.k
		}
		a := fillMatrix(ar, ac, ac, r)
		bm := fillMatrix(br, bc, bc, r)
		c := make([]float32, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		iters := max(1, int(2e8/flops))
		times := make([][]float64, len(cfgs))
		for rep := 0; rep < reps; rep++ {
			for ci, ks := range cfgs {
				kernelSets[p] = ks
				if os.Getenv("THS") != "" {
					SetThreads(ci + 1)
				}
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
				st := time.Now()
				for i := 0; i < iters; i++ {
					Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
				}
				times[ci] = append(times[ci], time.Since(st).Seconds()/float64(iters))
			}
		}
		kernelSets[p] = base
		line := fmt.Sprintf("%-28s", s.name)
		for ci := range cfgs {
			sort.Float64s(times[ci])
			line += fmt.Sprintf(" | best %6.1f med %6.1f", flops/times[ci][0]/1e9, flops/times[ci][len(times[ci])/2]/1e9)
		}
		fmt.Println(line)
	}
}
