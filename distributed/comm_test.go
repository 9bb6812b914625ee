package distributed

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestSumRanksOrder checks the reduction tree: a left chain in rank order,
// in the vectors' own precision (the values are chosen so that any other
// order gives another float32 result).
func TestSumRanksOrder(t *testing.T) {
	a, b, c := float32(1e8), float32(-1e8), float32(1)
	all := []float32{a, c, b, c, c, a} // rank 0 {a, c}, rank 1 {b, c}, rank 2 {c, a}
	dst := make([]float32, 2)
	sumRanks(dst, all)
	want0 := (a + b) + c // 1
	want1 := (c + c) + a // 1e8 (the ones vanish only in another order)
	if dst[0] != want0 || dst[1] != want1 {
		t.Fatalf("sum = %v, want %v %v", dst, want0, want1)
	}
	if other := a + (b + c); other == want0 {
		t.Fatalf("test values do not depend on the order")
	}
	d := make([]float64, 1)
	x, y, z := 0.1, 0.2, 0.3
	sumRanks(d, []float64{x, y, z})
	if d[0] != (x+y)+z {
		t.Fatalf("float64 sum = %v", d[0])
	}
}

// TestChainSumOrder checks that ChainSum, given each rank's vector as its
// contribution, is sumRanks bit for bit (a left chain in rank order) on 1
// to 4 in-process ranks, with vectors that cross piece boundaries, and
// that Local's ChainSum visits every piece of a vector longer than
// ChainPiece once, in order.
func TestChainSumOrder(t *testing.T) {
	a, b, c := float32(1e8), float32(-1e8), float32(1)
	vals := []float32{a, c, b, c, c, a, b, c, a, c, c}
	for n := 1; n <= 4; n++ {
		ln := 2*groupPiece + 1
		all := make([]float32, n*ln)
		for i := range all {
			all[i] = vals[(i*7+i/ln)%len(vals)]
		}
		want := make([]float32, ln)
		sumRanks(want, all)
		comms := newGroup(n)
		got := make([][]float32, n)
		done := make(chan struct{})
		for r := range comms {
			go func() {
				defer func() { done <- struct{}{} }()
				own := all[r*ln : (r+1)*ln]
				v := make([]float32, ln)
				if err := comms[r].ChainSum(v, func(p []float32, lo int, first bool) {
					for i := range p {
						if first {
							p[i] = own[lo+i]
						} else {
							p[i] += own[lo+i]
						}
					}
				}); err != nil {
					t.Error(err)
				}
				got[r] = v
			}()
		}
		for range comms {
			<-done
		}
		for r := range got {
			for i := range want {
				if math.Float32bits(got[r][i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d ranks: rank %d's chain sum[%d] = %v, want %v", n, r, i, got[r][i], want[i])
				}
			}
		}
	}
	v := make([]float32, ChainPiece+3)
	next := 0
	if err := (Local{}).ChainSum(v, func(p []float32, lo int, first bool) {
		if lo != next || !first {
			t.Fatalf("piece at %d (first %v), want %d", lo, first, next)
		}
		next += len(p)
	}); err != nil {
		t.Fatal(err)
	}
	if next != len(v) {
		t.Fatalf("pieces covered %d of %d values", next, len(v))
	}
}

// TestWorkerTimeout checks that a collective that never completes returns
// ErrTimeout and that later calls fail at once instead of hanging.
func TestWorkerTimeout(t *testing.T) {
	w, err := newWorker(50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.do("quick", func() error { return nil }); err != nil {
		t.Fatalf("quick call: %v", err)
	}
	block := make(chan struct{})
	defer close(block)
	err = w.do("Allreduce", func() error { <-block; return nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("blocked call: %v, want ErrTimeout", err)
	}
	start := time.Now()
	if err := w.do("Barrier", func() error { return nil }); !errors.Is(err, ErrTimeout) {
		t.Fatalf("call after a timeout: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 25*time.Millisecond {
		t.Fatalf("call after a timeout took %v, want an immediate error", d)
	}
	want := errors.New("mpi failed")
	w2, _ := newWorker(time.Second, nil)
	if err := w2.do("x", func() error { return want }); err != want {
		t.Fatalf("error not passed through: %v", err)
	}
	w2.stop()
	if err := w2.do("x", func() error { return nil }); err == nil {
		t.Fatalf("call on a stopped worker succeeded")
	}
}

func TestOpenWithoutMPI(t *testing.T) {
	if MPIBuilt {
		t.Skip("built with the mpi tag")
	}
	if _, err := Open(0); !errors.Is(err, ErrNoMPI) {
		t.Fatalf("Open: %v, want ErrNoMPI", err)
	}
}
