package lite

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
)

// TestLSTMCellVector holds the AVX-512 LSTM, SimpleRNN and GRU cells
// (qkernels.LSTMCell) to the Go cells lstmCell, rnnCell and gruCell, code
// for code,
// on unit counts around the 16-lane vectors, every cell exponent, random
// and extreme gate pre-activations and cell states, random output
// multipliers, zero points and clamps, with guard values past the units.
func TestLSTMCellVector(t *testing.T) {
	if !qkernels.CellSupported() {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(19, 50))
	ext := []int16{-32768, 32767, 0, -1, 1, 4096, -4096}
	draw := func(wide bool) int16 {
		switch {
		case r.IntN(6) == 0:
			return ext[r.IntN(len(ext))]
		case wide:
			return int16(r.IntN(65536) - 32768)
		}
		return int16(r.IntN(20000) - 10000)
	}
	for _, u := range []int{1, 7, 15, 16, 17, 33, 100, 128, 130} {
		for trial := 0; trial < 12; trial++ {
			e := MinCellExponent + r.IntN(MaxCellExponent-MinCellExponent+1)
			mh := mult{m0: r.Int64N(1 << 31), s: uint(1 + r.IntN(62))}
			if trial%2 == 0 {
				mh = mult{m0: 1<<30 + r.Int64N(1<<30), s: uint(20 + r.IntN(20))}
			}
			lo, hi := int64(-128), int64(127)
			if trial%3 == 1 {
				lo, hi = int64(r.IntN(100)-128), int64(r.IntN(100)+27)
			}
			zh := int64(r.IntN(256) - 128)
			cell, err := qkernels.NewLSTMCell(cellTables(), e, mh.m0, mh.s, zh, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			z := make([]int16, 4*u)
			for i := range z {
				z[i] = draw(trial%4 == 3)
			}
			const guard = 20
			c0 := make([]int16, u)
			for i := range c0 {
				c0[i] = draw(true)
			}
			cw, cg := make([]int16, u+guard), make([]int16, u+guard)
			hw, hg := make([]int8, u+guard), make([]int8, u+guard)
			for i := range cw {
				cw[i], cg[i], hw[i], hg[i] = 777, 777, 55, 55
			}
			copy(cw, c0)
			copy(cg, c0)
			for step := 0; step < 3; step++ { // the state carried over
				lstmCell(z, cw[:u], hw[:u], e, mh, zh, lo, hi)
				cell.Step(z, cg[:u], hg[:u])
				if fmt.Sprint(cw) != fmt.Sprint(cg) || !bytes.Equal(i8bytes(hw), i8bytes(hg)) {
					t.Fatalf("u %d e %d mh %+v zh %d [%d, %d] step %d:\nc %v\nwant %v\nh %v\nwant %v", u, e, mh, zh, lo, hi, step, cg, cw, hg, hw)
				}
				for i := range z {
					z[i] = draw(trial%4 == 3)
				}
			}
			rnnCell(z[:u], hw[:u], mh, zh, lo, hi)
			cell.StepRNN(z[:u], hg[:u])
			if !bytes.Equal(i8bytes(hw), i8bytes(hg)) {
				t.Fatalf("SimpleRNN u %d mh %+v zh %d [%d, %d]: h %v, want %v", u, mh, zh, lo, hi, hg, hw)
			}
			// The GRU: its common-shift multipliers, two products of 3U
			// and the previous codes in h (those above, inside the clamp
			// or not).
			m1, m2 := r.Int64N(1<<31), r.Int64N(1<<31)
			gs := uint(1 + r.IntN(62))
			if trial%2 == 0 {
				m1, m2, gs = 1<<30+r.Int64N(1<<30), r.Int64N(1<<31), uint(40+r.IntN(22))
			}
			gcell, err := qkernels.NewGRUCell(cellTables(), m1, m2, gs, zh, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			px, pr := z[:3*u], make([]int16, 3*u)
			for i := range pr {
				pr[i] = draw(trial%4 != 0)
			}
			for step := 0; step < 2; step++ {
				gruCell(px, pr, hw[:u], m1, m2, gs, zh, lo, hi)
				gcell.StepGRU(px, pr, hg[:u])
				if !bytes.Equal(i8bytes(hw), i8bytes(hg)) {
					t.Fatalf("GRU u %d m1 %d m2 %d shift %d zh %d [%d, %d] step %d: h %v, want %v", u, m1, m2, gs, zh, lo, hi, step, hg, hw)
				}
			}
		}
	}
}

// TestLSTMEveryPath runs the integer LSTM, SimpleRNN and GRU on every int8
// kernel path the CPU has, on unit counts that are not multiples of 16,
// at batch 1, 3 and 64 (one and two threads), against refLSTM (and the
// larger shapes against the Generic path), and fails if the VNNI path's
// vector stages (the one-row product, the AVX-512 requantization and
// cells) were not chosen where the CPU has them.
func TestLSTMEveryPath(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 51))
	cases := []lstmCase{
		{t: 4, f: 5, u: 7, bits: 8, e: -11, bias: true},
		{t: 3, f: 28, u: 33, bits: 8, e: -9, seq: true, bias: true},
		{t: 5, f: 3, u: 17, bits: 4, e: 0, back: true},
		{t: 3, f: 9, u: 100, bits: 8, e: -12, seq: true, back: true, bias: true},
		{t: 4, f: 11, u: 23, bits: 8, bias: true, rnn: true},
		{t: 3, f: 6, u: 19, bits: 8, seq: true, bias: true, gru: true},
	}
	big := []lstmCase{
		{t: 6, f: 28, u: 128, bits: 8, e: -11, bias: true},
		{t: 3, f: 13, u: 130, bits: 8, e: -10, seq: true, bias: true},
	}
	ran := map[qkernels.Path]bool{}
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for k, c := range append(cases, big...) {
			m := lstmModel(c, r)
			it, err := NewInterpreter(m)
			if err != nil {
				t.Fatal(err)
			}
			kp := it.kernels[0].(*lstmKernel).p
			vec := kp.mx.vec != nil && kp.mr.vec != nil && kp.cell != nil
			if p == qkernels.VNNI && !vec {
				t.Errorf("case %d: the VNNI path did not choose the vector stages", k)
			}
			if p != qkernels.VNNI && (kp.mx.vec != nil || kp.cell != nil) {
				t.Errorf("case %d: path %v chose the vector stages", k, p)
			}
			for _, n := range []int{1, 3, 64} {
				x := make([]int8, n*c.t*c.f)
				for i := range x {
					x[i] = int8(r.IntN(256) - 128)
				}
				var want []int8
				if k < len(cases) {
					want = refLSTM(m, x, n)
				} else {
					undo := qkernels.SetPath(qkernels.Generic)
					want = runInt8(t, m, x, n, 1)
					undo()
				}
				for _, th := range []int{1, 2} {
					if got := runInt8(t, m, x, n, th); !bytes.Equal(i8bytes(got), i8bytes(want)) {
						t.Fatalf("path %v case %d batch %d threads %d: got %v, want %v", p, k, n, th, got, want)
					}
				}
			}
			ran[p] = ran[p] || p != qkernels.VNNI || vec
		}
		restore()
	}
	checkCPUPathsRan(t, "LSTM", ran)
}
