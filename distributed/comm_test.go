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

// TestChainSchedule runs ChainSum's schedule (chainSteps, what the MPI
// communicator executes with MPI_Sendrecv) for 2 to 5 ranks in lockstep
// in one process: every receive must meet its neighbour's send of the
// same piece at the same step (partial sums up the chain, sums down), and
// every rank must end with sumRanks of the ranks' vectors, bit for bit, on
// vectors of 1, 2 and 3 pieces and a tail.
func TestChainSchedule(t *testing.T) {
	vals := []float32{1e8, 1, -1e8, 1, 1, 1e8, -1e8, 0.5}
	for n := 2; n <= 5; n++ {
		for _, m := range []int{3, ChainPiece, 2*ChainPiece + 7} {
			own := make([][]float32, n)
			all := make([]float32, 0, n*m)
			for r := range own {
				own[r] = make([]float32, m)
				for i := range own[r] {
					own[r][i] = vals[(i*3+r*5+i/ChainPiece)%len(vals)]
				}
				all = append(all, own[r]...)
			}
			want := make([]float32, m)
			sumRanks(want, all)
			bufs := make([][]float32, n)
			steps := make([][]chainStep, n)
			for r := range bufs {
				bufs[r] = make([]float32, m)
				if err := chainSteps(r, n, m, func(s chainStep) error { steps[r] = append(steps[r], s); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			for k := range steps[0] {
				// Sends read the buffers before the step's receives and adds.
				type msg struct {
					piece int
					data  []float32
				}
				part, sum := make([]msg, n), make([]msg, n)
				for r := range bufs {
					s := steps[r][k]
					part[r], sum[r] = msg{piece: -1}, msg{piece: -1}
					if s.sendPart >= 0 {
						part[r] = msg{s.sendPart, append([]float32(nil), pieceOf(bufs[r], s.sendPart)...)}
					}
					if s.sendSum >= 0 {
						sum[r] = msg{s.sendSum, append([]float32(nil), pieceOf(bufs[r], s.sendSum)...)}
					}
				}
				for r := range bufs {
					s := steps[r][k]
					// Partial sums come from rank r-1, sums from rank r+1.
					gotPart, gotSum := -1, -1
					if r > 0 {
						gotPart = part[r-1].piece
					}
					if r < n-1 {
						gotSum = sum[r+1].piece
					}
					if gotPart != s.recvPart || gotSum != s.recvSum {
						t.Fatalf("%d ranks, %d values, step %d: rank %d receives pieces %d %d, its neighbours send %d %d", n, m, k, r, s.recvPart, s.recvSum, gotPart, gotSum)
					}
					if (s.sendPart >= 0 && s.next != r+1) || (s.sendSum >= 0 && s.prev != r-1) || (r == n-1 && s.sendPart >= 0) || (r == 0 && s.sendSum >= 0) {
						t.Fatalf("rank %d of %d sends off the chain: %+v", r, n, s)
					}
					if s.recvPart >= 0 {
						copy(pieceOf(bufs[r], s.recvPart), part[r-1].data)
					}
					if s.recvSum >= 0 {
						copy(pieceOf(bufs[r], s.recvSum), sum[r+1].data)
					}
					if s.add >= 0 {
						p, src := pieceOf(bufs[r], s.add), pieceOf(own[r], s.add)
						for i := range p {
							if r == 0 {
								p[i] = src[i]
							} else {
								p[i] += src[i]
							}
						}
					}
				}
			}
			for r := range bufs {
				for i := range want {
					if math.Float32bits(bufs[r][i]) != math.Float32bits(want[i]) {
						t.Fatalf("%d ranks, %d values: rank %d's sum[%d] = %v, want %v", n, m, r, i, bufs[r][i], want[i])
					}
				}
			}
		}
	}
}
