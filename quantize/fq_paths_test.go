package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"
)

// fqTestValues returns n values, some special (NaN, infinities, signed
// zeros, the range edges of the quantizers below).
func fqTestValues(r *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		1, -1, 124.0 / 64, -130.0 / 64, math.Nextafter32(124.0/64, 3)}
	x := make([]float32, n)
	for i := range x {
		if r.IntN(5) == 0 {
			x[i] = special[r.IntN(len(special))]
		} else {
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// refApply, refSte and refMinMax are the loops fq.apply, fq.ste and minMax
// ran before they called the kernels.
func refApply(p fq, x, y []float32) {
	for i, v := range x {
		t := v * p.inv
		if t < p.lo {
			t = p.lo
		}
		if t > p.hi {
			t = p.hi
		}
		y[i] = ((t + qmath.RoundMagic) - qmath.RoundMagic) * p.scale
	}
}

func refSte(p fq, x, dy, dx []float32) {
	for i, v := range x {
		t := v * p.inv
		g := math.Float32bits(dy[i])
		if t < p.lo {
			g = 0
		}
		if t > p.hi {
			g = 0
		}
		dx[i] = math.Float32frombits(g)
	}
}

func refMinMax(x []float32) (lo, hi float32) {
	if len(x) == 0 {
		return 0, 0
	}
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// sameBitsNaN is sameBits with any NaN matching any NaN.
func sameBitsNaN(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

// TestFQLoopsMatchReference pins the quantizers' loops that now call the
// kernels (fq.apply, fq.ste, minMax) or were restructured (the per-channel
// min/max and straight-through gradient with one value per channel and
// row) to the loops they replaced, bit for bit, on special values, lengths
// around the vector width and zeros of both signs.
func TestFQLoopsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	p := newFQ(1.0/64, 3, -127, 127)
	for _, n := range []int{0, 1, 7, 16, 33, 100} {
		for trial := 0; trial < 3; trial++ {
			x, dy := fqTestValues(r, n), fqTestValues(r, n)
			if trial == 1 { // zeros of both signs as the extremes
				for i := range x {
					x[i] = float32(math.Abs(float64(x[i])))
					if i%3 == 0 {
						x[i] = float32(math.Copysign(0, float64(r.IntN(2)*2-1)))
					}
				}
			}
			if trial == 2 {
				for i := range x {
					x[i] = float32(math.Copysign(0, float64(r.IntN(2)*2-1)))
				}
			}
			y, wy := make([]float32, n), make([]float32, n)
			dx, wdx := make([]float32, n), make([]float32, n)
			p.apply(x, y)
			refApply(p, x, wy)
			p.ste(x, dy, dx)
			refSte(p, x, dy, wdx)
			if i := sameBitsNaN(y, wy); i >= 0 {
				t.Fatalf("n=%d: apply[%d] = %v, want %v", n, i, y[i], wy[i])
			}
			if i := sameBits(dx, wdx); i >= 0 {
				t.Fatalf("n=%d: ste[%d] = %v, want %v", n, i, dx[i], wdx[i])
			}
			lo, hi := minMax(x)
			wlo, whi := refMinMax(x)
			if math.Float32bits(lo) != math.Float32bits(wlo) || math.Float32bits(hi) != math.Float32bits(whi) {
				t.Fatalf("n=%d trial %d: minMax = %v, %v, want %v, %v", n, trial, lo, hi, wlo, whi)
			}
		}
	}
	// Per channel, one value per channel and row (a Conv2D kernel's
	// output-channel axis): the restructured loops against the general
	// ones (channel by channel over slices of one value).
	for _, C := range []int{2, 5, 16} {
		const rows = 9
		x, dy := fqTestValues(r, rows*C), fqTestValues(r, rows*C)
		// A NaN in the first row, and one in a channel of positive values
		// (minMax of a NaN alone is 0, 0, which then is the minimum).
		nan := float32(math.NaN())
		x[0] = nan
		for row := 0; row < rows; row++ {
			x[row*C+1] = 1 + float32(row)
		}
		x[3*C+1] = nan
		var q rangeState
		q.lay = layout{channels: C, inner: 1}
		lo, hi := make([]float32, C), make([]float32, C)
		q.channelMinMax(x, lo, hi)
		wlo, whi := make([]float32, C), make([]float32, C)
		for row := 0; row < rows; row++ {
			for c := 0; c < C; c++ {
				l, h := refMinMax(x[row*C+c : row*C+c+1])
				if row == 0 || l < wlo[c] {
					wlo[c] = l
				}
				if row == 0 || h > whi[c] {
					whi[c] = h
				}
			}
		}
		if i := sameBits(lo, wlo); i >= 0 {
			t.Fatalf("C=%d: channel min[%d] = %v, want %v", C, i, lo[i], wlo[i])
		}
		if i := sameBits(hi, whi); i >= 0 {
			t.Fatalf("C=%d: channel max[%d] = %v, want %v", C, i, hi[i], whi[i])
		}
		ps := make([]fq, C)
		for c := range ps {
			ps[c] = newFQ(float32(c+1)/64, int32(c%3), -127, 127)
		}
		dx, wdx := make([]float32, rows*C), make([]float32, rows*C)
		steLayout(ps, layout{channels: C, inner: 1}, x, dy, dx)
		for i := range x {
			refSte(ps[i%C], x[i:i+1], dy[i:i+1], wdx[i:i+1])
		}
		if i := sameBits(dx, wdx); i >= 0 {
			t.Fatalf("C=%d: per-channel ste[%d] = %v, want %v", C, i, dx[i], wdx[i])
		}
	}
}
