package workers

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkFor runs For(t, n, grain) and fails unless every index is visited
// exactly once, by parts numbered 0.. below Parts(t, n, grain), each run
// once, in order, all but the last of ceil(n/parts) >= grain units.
func checkFor(t *testing.T, th, n, grain int) {
	t.Helper()
	p := Parts(th, n, grain)
	hits := make([]int32, n)
	type span struct{ lo, hi int }
	spans := make([]span, p)
	var used [64]atomic.Int32
	var g Group
	For(th, n, grain, Func(func(part, lo, hi int) {
		if part < 0 || part >= p || lo >= hi {
			t.Errorf("t=%d n=%d grain=%d: part %d [%d, %d) of %d", th, n, grain, part, lo, hi, p)
			return
		}
		used[part].Add(1)
		spans[part] = span{lo, hi}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&hits[i], 1)
		}
	}), &g)
	for i, h := range hits {
		if h != 1 {
			t.Fatalf("t=%d n=%d grain=%d: index %d visited %d times", th, n, grain, i, h)
		}
	}
	per := (n + p - 1) / p
	q := 0 // parts that run: every one but the last has per units
	if n > 0 {
		q = (n + per - 1) / per
	}
	for i := range p {
		u := used[i].Load()
		if i >= q {
			if u != 0 {
				t.Errorf("t=%d n=%d grain=%d: part %d of %d ran", th, n, grain, i, q)
			}
			continue
		}
		lo, hi := spans[i].lo, spans[i].hi
		switch {
		case u != 1:
			t.Errorf("t=%d n=%d grain=%d: part %d ran %d times", th, n, grain, i, u)
		case lo != i*per || hi != min(n, lo+per):
			t.Errorf("t=%d n=%d grain=%d: part %d is [%d, %d), want [%d, %d)", th, n, grain, i, lo, hi, i*per, min(n, lo+per))
		case i < q-1 && hi-lo < grain:
			t.Errorf("t=%d n=%d grain=%d: part %d has %d units", th, n, grain, i, hi-lo)
		}
	}
	if g.pending.Load() != 0 {
		t.Errorf("t=%d n=%d grain=%d: %d parts pending after For", th, n, grain, g.pending.Load())
	}
}

func TestForCovers(t *testing.T) {
	defer Set(N())
	Set(3)
	for _, th := range []int{0, 1, 2, 3, 4, 7} {
		for _, n := range []int{0, 1, 2, 5, 10, 64, 1000, 4097} {
			for _, grain := range []int{0, 1, 3, 64, 5000} {
				checkFor(t, th, n, grain)
			}
		}
	}
}

func TestParts(t *testing.T) {
	defer Set(N())
	Set(4)
	for _, c := range []struct{ t, n, grain, want int }{
		{0, 100, 1, 4}, {2, 100, 1, 2}, {8, 100, 1, 8}, {0, 100, 30, 3}, {0, 100, 0, 4},
		{0, 3, 1, 3}, {0, 0, 1, 1}, {0, 5, 10, 1}, {1, 100, 1, 1},
	} {
		if got := Parts(c.t, c.n, c.grain); got != c.want {
			t.Errorf("Parts(%d, %d, %d) = %d, want %d", c.t, c.n, c.grain, got, c.want)
		}
	}
	r := Runner{Threads: 2}
	if got := r.Parts(100, 1); got != 2 {
		t.Errorf("Runner{Threads: 2}.Parts(100, 1) = %d, want 2", got)
	}
}

// TestNested splits work whose parts split work again (For inside For,
// each level with its own Group), from several goroutines at once: it must
// neither deadlock nor lose work, with more threads than cores.
func TestNested(t *testing.T) {
	defer Set(N())
	Set(4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			inner := make([]Runner, 4)
			for range 50 {
				var total atomic.Int64
				var outer Runner
				outer.For(4, 1, func(part, lo, hi int) {
					for range hi - lo {
						inner[part].For(100, 1, func(_, lo, hi int) { total.Add(int64(hi - lo)) })
					}
				})
				if total.Load() != 400 {
					t.Errorf("nested For covered %d of 400", total.Load())
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestWaitBlocks runs parts longer than callerSpin, so that the caller
// blocks, and checks that it wakes when they are done.
func TestWaitBlocks(t *testing.T) {
	defer Set(N())
	Set(2)
	var done atomic.Int32
	var r Runner
	for range 3 {
		done.Store(0)
		r.For(2, 1, func(part, _, _ int) {
			if part == 1 {
				time.Sleep(3 * callerSpin)
			}
			done.Add(1)
		})
		if done.Load() != 2 {
			t.Fatalf("For returned with %d of 2 parts done", done.Load())
		}
	}
}

// forSink keeps the work of TestForNoAllocs and the benchmark.
var forSink [4]float64

// forWork is the work of TestForNoAllocs, a function value made once.
var forWork = func(part, lo, hi int) {
	for i := lo; i < hi; i++ {
		forSink[part] += float64(i)
	}
}

// TestForNoAllocs checks that Runner.For hands its parts to the workers
// without allocating, and that they went to workers.
func TestForNoAllocs(t *testing.T) {
	defer Set(N())
	for _, th := range []int{2, 3} {
		Set(th)
		var r Runner
		before := HandedOff()
		if a := testing.AllocsPerRun(50, func() { r.For(64, 1, forWork) }); a != 0 {
			t.Errorf("%d threads: %v allocations per call", th, a)
		}
		if got, want := HandedOff()-before, int64(51*(th-1)); got != want {
			t.Errorf("%d threads: %d parts handed off in 51 calls, want %d", th, got, want)
		}
	}
}
