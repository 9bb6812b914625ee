package qkernels

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/workers"
	"github.com/goqat/goqat/qmath"
)

// refGemm is the specification, written as lite's reference computes it:
// acc = bias + sum (a - zpIn) * w in wrapping int32, then Requantize.
func refGemm(a []int8, m, k int, w []int8, n int, bias []int32, zpIn int32, mult []qmath.Multiplier, zp, lo, hi int32) []int8 {
	out := make([]int8, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			acc := bias[j]
			for p := 0; p < k; p++ {
				acc += (int32(a[i*k+p]) - zpIn) * int32(w[p*n+j])
			}
			out[i*n+j] = int8(qmath.Requantize(acc, mult[j], zp, lo, hi))
		}
	}
	return out
}

// packRows writes int8 rows (m, k) as the kernels read them: XOR 0x80,
// stride RowStride(k), PaddedRows(m) rows, the padding filled with junk
// that must not matter.
func packRows(a []int8, m, k int, rng *rand.Rand) []uint8 {
	lda := RowStride(k)
	buf := make([]uint8, PaddedRows(m)*lda)
	for i := range buf {
		buf[i] = uint8(rng.IntN(256))
	}
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			buf[i*lda+p] = uint8(a[i*k+p]) ^ 0x80
		}
	}
	return buf
}

func randMults(n int, rng *rand.Rand) []qmath.Multiplier {
	ms := make([]qmath.Multiplier, n)
	for j := range ms {
		var r float64
		switch rng.IntN(12) {
		case 10, 11:
			r = 1 / float64(int(1)<<(1+rng.IntN(12))) // a power of two: exact ties
		case 0:
			r = 0
		case 1:
			r = 1e-25 // shift beyond 62: everything rescales to 0
		case 2:
			r = 0.5 + rng.Float64() // around one
		default:
			r = rng.Float64() * 1e-3
		}
		m, err := qmath.NewMultiplier(r)
		if err != nil {
			panic(err)
		}
		ms[j] = m
	}
	return ms
}

const guard = int8(0x5a)

// fillFrom returns a fill function copying rows from a packed buffer
// (PaddedRows rows of RowStride(k)), padding rows included, and writing
// junk into the FillSlack bytes after them (a fill may overrun there).
func fillFrom(buf []uint8, k int) func(dst []uint8, i0, n int) {
	lda := RowStride(k)
	return func(dst []uint8, i0, n int) {
		copy(dst[:MR*lda], buf[i0*lda:])
		for i := range FillSlack {
			dst[MR*lda+i] = uint8(0xa5 + 17*i)
		}
	}
}

func TestPackRow(t *testing.T) {
	for _, n := range []int{1, 7, 8, 13, 31, 32, 33, 64, 100} {
		src := make([]int8, n)
		for i := range src {
			src[i] = int8(i*37 - 128)
		}
		dst := make([]uint8, n+1)
		dst[n] = 0xa5
		PackRow(dst, src)
		for i, v := range src {
			if dst[i] != uint8(int(v)+128) {
				t.Fatalf("n=%d byte %d: %d, want %d", n, i, dst[i], int(v)+128)
			}
		}
		if dst[n] != 0xa5 {
			t.Fatalf("n=%d: guard overwritten", n)
		}
	}
}

// smallMults returns n multipliers that all qualify for the rqFast output
// stage (so the VNNI path fuses it into the product).
func smallMults(n int, rng *rand.Rand) []qmath.Multiplier {
	ms := make([]qmath.Multiplier, n)
	for j := range ms {
		for {
			r := 1e-4 + rng.Float64()*1e-2
			if rng.IntN(8) == 0 {
				r = 0.25 + rng.Float64()/4 // shift 32: the half is not in the high dword
			}
			m, err := qmath.NewMultiplier(r)
			if err != nil {
				panic(err)
			}
			if _, _, _, ok := fastForm(int64(m.M0), int64(m.Shift), 0); ok {
				ms[j] = m
				break
			}
		}
	}
	return ms
}

// fusedRun counts products that ran with the output stage fused (VNNI);
// tailRun those whose last tile of at most four rows ran on the 4x32
// kernels.
var fusedRun, tailRun int

// runCase checks one shape on one path against refGemm, with guard bytes
// around and between the output rows; fast picks multipliers that all
// qualify for the rqFast stage.
func runCase(t *testing.T, p Path, m, k, n int, rng *rand.Rand, fast bool) {
	t.Helper()
	a := make([]int8, m*k)
	for i := range a {
		a[i] = int8(rng.IntN(256) - 128)
	}
	w := make([]int8, k*n)
	for i := range w {
		w[i] = int8(rng.IntN(256) - 128)
	}
	bias := make([]int32, n)
	for i := range bias {
		bias[i] = rng.Int32N(1<<20) - 1<<19
	}
	if rng.IntN(8) == 0 {
		bias[0] = 1<<31 - 1 // wraps: the paths must wrap as the reference does
	}
	zpIn := rng.Int32N(256) - 128
	mult := randMults(n, rng)
	if fast {
		mult = smallMults(n, rng)
	}
	zp := rng.Int32N(256) - 128
	lo, hi := int32(-128), int32(127)
	if rng.IntN(2) == 0 {
		lo, hi = max(zp, -128), min(zp+60, 127)
	}
	want := refGemm(a, m, k, w, n, bias, zpIn, mult, zp, lo, hi)

	pw, err := PackWeights(p, w, k, n)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutput(pw, bias, zpIn, mult, zp, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGemm(pw, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := o.fastPair(0, min(n, 32)); fast && p == VNNI {
		if !ok {
			t.Fatalf("m=%d k=%d n=%d: small multipliers not in the fast stage", m, k, n)
		}
		fusedRun++
		if r := m % MR; r > 0 && r <= 4 {
			tailRun++ // the last tile runs on a 4x32 kernel
		}
	}
	ldo := n + 3
	out := make([]int8, m*ldo+5)
	for i := range out {
		out[i] = guard
	}
	if err := g.Run(fillFrom(packRows(a, m, k, rng), k), m, out, ldo); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < ldo; j++ {
			got := out[i*ldo+j]
			if j >= n {
				if got != guard {
					t.Fatalf("%v m=%d k=%d n=%d: guard at row %d col %d overwritten", p, m, k, n, i, j)
				}
				continue
			}
			if got != want[i*n+j] {
				t.Fatalf("%v m=%d k=%d n=%d: out[%d][%d] = %d, want %d", p, m, k, n, i, j, got, want[i*n+j])
			}
		}
	}
	for _, v := range out[m*ldo:] {
		if v != guard {
			t.Fatalf("%v m=%d k=%d n=%d: guard past the end overwritten", p, m, k, n)
		}
	}
}

// pathsRun records the paths the bit-exactness test ran.
var pathsRun = map[Path]bool{}

func TestGemmPathsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range SupportedPaths() {
		for _, m := range []int{1, 5, 12, 13, 25, 40} {
			for _, k := range []int{1, 3, 4, 9, 17, 70} {
				for _, n := range []int{1, 10, 16, 17, 31, 32, 33, 64, 70} {
					runCase(t, p, m, k, n, rng, false)
					runCase(t, p, m, k, n, rng, true)
				}
			}
		}
		pathsRun[p] = true
	}
	for _, p := range SupportedPaths() {
		if !pathsRun[p] {
			t.Errorf("path %v supported but not tested", p)
		}
	}
	checkCPUPathsRan(t, pathsRun)
	if pathsRun[VNNI] && fusedRun == 0 {
		t.Error("the VNNI product with the fused output stage did not run")
	}
	if pathsRun[VNNI] && tailRun == 0 {
		t.Error("the VNNI 4x32 remainder kernels did not run")
	}
}

func TestGemmThreadIndependent(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	for _, p := range SupportedPaths() {
		// Many row tiles (split by tiles), and few (a batch of one, a late
		// layer: split by panels too).
		for _, sh := range [][3]int{{300, 75, 40}, {1, 75, 200}, {13, 200, 70}, {49, 75, 100}} {
			rng := rand.New(rand.NewPCG(3, 4))
			m, k, n := sh[0], sh[1], sh[2]
			a := make([]int8, m*k)
			for i := range a {
				a[i] = int8(rng.IntN(256) - 128)
			}
			w := make([]int8, k*n)
			for i := range w {
				w[i] = int8(rng.IntN(256) - 128)
			}
			mult := randMults(n, rng)
			pw, _ := PackWeights(p, w, k, n)
			o, _ := NewOutput(pw, nil, 3, mult, -5, -128, 127)
			g, _ := NewGemm(pw, o)
			ap := packRows(a, m, k, rng)
			var outs [][]int8
			before := workers.HandedOff()
			for _, th := range []int{1, 2, 3} {
				kernels.SetThreads(th)
				out := make([]int8, m*n)
				if err := g.Run(fillFrom(ap, k), m, out, n); err != nil {
					t.Fatal(err)
				}
				outs = append(outs, out)
				// Again with the post hook: each output seen once, final.
				cover := make([]atomic.Int32, m*n)
				var early atomic.Int32
				again := make([]int8, m*n)
				g.SetPost(func(off, cnt int) {
					for j := off; j < off+cnt; j++ {
						cover[j].Add(1)
						if again[j] != outs[0][j] {
							early.Add(1)
						}
					}
				})
				if err := g.Run(fillFrom(ap, k), m, again, n); err != nil {
					t.Fatal(err)
				}
				g.SetPost(nil)
				for j := range cover {
					if c := cover[j].Load(); c != 1 {
						t.Fatalf("%v %v %d threads: the post hook covered output %d %d times", p, sh, th, j, c)
					}
				}
				if early.Load() != 0 {
					t.Fatalf("%v %v %d threads: the post hook saw %d values before they were final", p, sh, th, early.Load())
				}
			}
			if !slices.Equal(outs[0], outs[1]) || !slices.Equal(outs[0], outs[2]) {
				t.Errorf("%v %v: results depend on the thread count", p, sh)
			}
			if workers.HandedOff() == before {
				t.Errorf("%v %v: no part ran on a worker", p, sh)
			}
		}
	}
}

// reqAcc returns an accumulator for multiplier m: the int32 extremes, a
// random one (which mostly saturates), one whose rescaled value lands in
// the int8 range, or an exact tie (acc*M0/2^Shift = q + 1/2).
func reqAcc(rng *rand.Rand, m qmath.Multiplier) int32 {
	switch rng.IntN(7) {
	case 0:
		return -1 << 31
	case 1:
		return 1<<31 - 1
	case 2:
		return int32(rng.Uint32())
	case 3:
		// An odd multiple of a power of two: the products nearest to a
		// tie for any M0.
		return int32(2*rng.IntN(3)-3) << rng.IntN(30)
	}
	if m.M0 == 0 {
		return int32(rng.Uint32())
	}
	q := rng.Int64N(600) - 300 // the rescaled value, around the int8 range
	if m.M0 == 1<<30 && m.Shift >= 31 {
		// M = 2^(30-Shift): acc = (2q+1) * 2^(Shift-31) is a tie.
		if a := (2*q + 1) << (m.Shift - 31); a >= -1<<31 && a < 1<<31 {
			return int32(a)
		}
	}
	a := math.Round(float64(q)/m.Real()) + float64(rng.IntN(5)-2)
	return int32(max(-1<<31, min(1<<31-1, a)))
}

// TestRequantVectorMatchesScalar drives each vector output stage (VNNI: 16
// columns, AVX2: 8) with extreme accumulators (int32 minimum and maximum),
// random ones, ones that rescale into the int8 range and exact ties, all
// after random offsets, against the scalar stage.
func TestRequantVectorMatchesScalar(t *testing.T) {
	for _, c := range []struct {
		p     Path
		width int // columns one call handles
	}{{VNNI, 16}, {AVX2, 8}} {
		if !supported(c.p) {
			continue
		}
		rng := rand.New(rand.NewPCG(5, uint64(c.width)))
		const cols = 16
		var modes [3]int
		fast8 := 0
		for trial := 0; trial < 200; trial++ {
			pw, _ := PackWeights(c.p, make([]int8, cols), 1, cols)
			mult := randMults(cols, rng)
			if trial%3 == 0 {
				// Only small multipliers: mostly whole groups in rqFast,
				// some M0 with many trailing zeros (rqNarrow).
				for j := range mult {
					r := rng.Float64() * 1e-2
					if rng.IntN(10) == 0 {
						r = 0.25 + rng.Float64()/4 // shift 32
					}
					if trial%6 == 3 && rng.IntN(8) == 0 {
						r = float64(1+rng.IntN(64)) / float64(int(1)<<(8+rng.IntN(20)))
					}
					mult[j], _ = qmath.NewMultiplier(r)
				}
			}
			o, err := NewOutput(pw, nil, 0, mult, rng.Int32N(256)-128, -128+rng.Int32N(50), 127-rng.Int32N(50))
			if err != nil {
				t.Fatal(err)
			}
			if (c.p == VNNI && !o.vec) || (c.p == AVX2 && !o.vec2) {
				continue
			}
			modes[o.groups[0].mode]++
			fast8 += int(o.groups8[0].fast)
			for j := range o.offset {
				o.offset[j] = rng.Int32()
				o.groups[j/16].offset[j%16] = o.offset[j]
				o.groups8[j/8].offset[j%8] = o.offset[j]
			}
			var tile [MR * cols]int32
			for i := range tile {
				tile[i] = reqAcc(rng, mult[i%cols]) - o.offset[i%cols] // wraps
			}
			out := make([]int8, MR*cols)
			for h := 0; h < cols/c.width; h++ {
				if c.p == VNNI {
					requantVNNI16(&tile[0], cols, MR, &o.groups[0], int64(o.zp), int64(o.lo), int64(o.hi), &out[0], cols, cols)
				} else {
					requantAVX2x8(&tile[h*8], cols, MR, &o.groups8[h], int64(o.zp), int64(o.lo), int64(o.hi), &out[h*8], cols)
				}
			}
			for i := 0; i < MR; i++ {
				for j := 0; j < cols; j++ {
					if want := o.finish(j, tile[i*cols+j]); out[i*cols+j] != want {
						t.Fatalf("%v trial %d [%d][%d]: acc %d mult %+v: vector %d, scalar %d", c.p, trial, i, j, tile[i*cols+j], mult[j], out[i*cols+j], want)
					}
				}
			}
		}
		if c.p == AVX2 && fast8 < 10 {
			t.Errorf("AVX2 output stage: the fast form ran in %d trials", fast8)
		}
		if c.p == VNNI {
			// Each of the VNNI stage's three modes must have run.
			for m, k := range modes {
				if k < 10 {
					t.Errorf("VNNI output stage mode %d ran in %d trials", m, k)
				}
			}
		}
	}
}

func TestPackWeightsErrors(t *testing.T) {
	if _, err := PackWeights(Generic, make([]int8, 5), 2, 3); err == nil {
		t.Error("no error for 5 weights of a 2x3 matrix")
	}
	if _, err := PackWeights(numPaths, make([]int8, 6), 2, 3); err == nil {
		t.Error("no error for an unknown path")
	}
	pw, _ := PackWeights(Generic, make([]int8, 6), 2, 3)
	o, _ := NewOutput(pw, nil, 0, make([]qmath.Multiplier, 3), 0, -128, 127)
	g, _ := NewGemm(pw, o)
	if err := g.Run(fillFrom(make([]uint8, 12*4), 2), 2, make([]int8, 5), 3); err == nil {
		t.Error("no error for a short output")
	}
	if g.Weights().Path() != Generic {
		t.Error("Weights().Path() is not the packing path")
	}
}

// TestFastFormExact checks the rqFast formula in plain int32 arithmetic
// against qmath.Requantize's rounding, after the widest clamp
// [-128, 127], for every shift: the largest accumulators, exact ties
// (odd multiples of 2^(shift-1-tz(M0))), the extreme zero points, and M0
// with trailing zeros up to where fastForm refuses them.
func TestFastFormExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	clamp := func(v int64) int64 { return min(max(v, -128), 127) }
	for shift := int64(1); shift <= 62; shift++ {
		for trial := 0; trial < 400; trial++ {
			m0 := int64(1<<30 + rng.IntN(1<<30))
			tz := 0
			if trial%2 == 0 {
				tz = rng.IntN(31)
				m0 = (m0 >> tz << tz) | 1<<30 // at least tz trailing zeros
				m0 |= 1 << tz
				if tz == 30 {
					m0 = 1 << 30
				}
				tz = bits.TrailingZeros64(uint64(m0))
			}
			zp := []int32{-128, 127, rng.Int32N(256) - 128}[trial%3]
			u, r, h, ok := fastForm(m0, shift, zp)
			if !ok {
				continue
			}
			if shift < 32 || shift > 54 || tz > 20 {
				t.Fatalf("fastForm accepted shift %d m0 %#x", shift, m0)
			}
			accs := []int32{-1 << 31, 1<<31 - 1, 0, 1, -1, int32(rng.Uint32()), reqAcc(rng, qmath.Multiplier{M0: int32(m0), Shift: int32(shift)})}
			if t0 := shift - 1 - int64(tz); t0 <= 31 {
				// Exact ties: acc an odd multiple of 2^t0.
				for _, odd := range []int64{1, -1, 3, -3, 2*rng.Int64N(1<<10) + 1} {
					if a := odd << t0; a >= -1<<31 && a < 1<<31 {
						accs = append(accs, int32(a))
					}
				}
			}
			for _, acc := range accs {
				hi := int32((int64(acc)*m0 + h) >> 32)
				if s := int64(hi) + int64(r); s != int64(hi+r) {
					t.Fatalf("shift %d: int32 overflow", shift)
				}
				got := clamp(int64((hi + r) >> u))
				want := clamp(qmath.RoundShift(int64(acc)*m0, uint(shift)) + int64(zp))
				if got != want {
					t.Fatalf("shift %d m0 %#x zp %d acc %d: fast %d, want %d", shift, m0, zp, acc, got, want)
				}
			}
		}
	}
	if _, _, _, ok := fastForm(1<<30, 40, 0); ok {
		t.Error("M0 = 2^30 (30 trailing zeros, ties inside the int8 range) accepted")
	}
}

// TestGemmH0Kernels runs the fused VNNI kernels on output stages whose
// groups have no column with Shift 32 (the H0 kernels, no h additions)
// and on ones with such a column (h = 2^31 there), with the full int8
// clamp (the F kernels) and a narrower one, 16- and 32-column panels,
// against refGemm, and checks which kind each panel took.
func TestGemmH0Kernels(t *testing.T) {
	if !supported(VNNI) {
		t.Skip("no VNNI")
	}
	defer SetPath(VNNI)()
	rng := rand.New(rand.NewPCG(23, 24))
	for _, shift32 := range []bool{false, true} {
		for _, n := range []int{16, 32, 45} {
			for _, clamp := range [][2]int32{{-128, 127}, {-20, 127}} { // the F kernels, then a fused ReLU's
				m, k := []int{29, 28}[rng.IntN(2)], 70 // remainders 5 and 4: the 12x32 and 4x32 kernels
				mult := make([]qmath.Multiplier, n)
				for j := range mult {
					r := 0.001 + 0.01*rng.Float64() // Shift 37-40
					if shift32 && j%7 == 3 {
						r = 0.26 + 0.2*rng.Float64() // Shift 32
					}
					mu, err := qmath.NewMultiplier(r)
					if err != nil {
						t.Fatal(err)
					}
					mult[j] = mu
				}
				a := make([]int8, m*k)
				for i := range a {
					a[i] = int8(rng.IntN(256) - 128)
				}
				w := make([]int8, k*n)
				for i := range w {
					w[i] = int8(rng.IntN(256) - 128)
				}
				bias := make([]int32, n)
				for i := range bias {
					bias[i] = rng.Int32N(1<<12) - 1<<11
				}
				zpIn, zp := rng.Int32N(256)-128, rng.Int32N(256)-128
				want := refGemm(a, m, k, w, n, bias, zpIn, mult, zp, clamp[0], clamp[1])
				pw, _ := PackWeights(VNNI, w, k, n)
				o, err := NewOutput(pw, bias, zpIn, mult, zp, clamp[0], clamp[1])
				if err != nil {
					t.Fatal(err)
				}
				_, _, fast, h0 := o.fastPair(0, min(n, 32))
				if !fast || h0 == shift32 {
					t.Fatalf("shift32 %v n=%d: fastPair fast %v h0 %v", shift32, n, fast, h0)
				}
				g, _ := NewGemm(pw, o)
				got := make([]int8, m*n)
				if err := g.Run(fillFrom(packRows(a, m, k, rng), k), m, got, n); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("shift32 %v n=%d clamp %v: out[%d] = %d, want %d", shift32, n, clamp, i, got[i], want[i])
					}
				}
			}
		}
	}
}
