package distributed

import (
	"errors"
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
