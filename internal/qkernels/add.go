package qkernels

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/qmath"
)

// AddParams is a rescaled int8 addition: both inputs brought to the
// output's scale by mantissas sharing one shift and summed before a single
// rounding,
//
//	p := (a-ZpA)*MA + (b-ZpB)*MB
//	y := clamp(round_half_even(p / 2^Shift) + ZpOut, Lo, Hi)
//
// The field order is the layout the vector loops read.
type AddParams struct {
	ZpA, ZpB int64
	MA, MB   int64
	Shift    int64
	half1    int64 // 2^(Shift-1) - 1
	ZpOut    int64
	Lo, Hi   int64

	// The AVX2 loop works in float64, where every step is exact: the
	// products and sums are integers below 2^53, the scaling by 2^-Shift
	// is exact, and VROUNDPD rounds half to even.
	fMA, fMB, fC, fInv, fZp, fLo, fHi float64 // fC = -(ZpA*MA + ZpB*MB)
	fExact                            bool    // |MA|+|MB| < 2^44 and Shift <= 62
}

// NewAddParams validates and completes the parameters of a rescaled add.
func NewAddParams(zpA, zpB, mA, mB int64, shift uint, zpOut, lo, hi int64) (*AddParams, error) {
	if lo > hi || lo < -128 || hi > 127 {
		return nil, fmt.Errorf("qkernels: add clamp [%d, %d] outside int8", lo, hi)
	}
	p := &AddParams{ZpA: zpA, ZpB: zpB, MA: mA, MB: mB, Shift: int64(shift), ZpOut: zpOut, Lo: lo, Hi: hi}
	if shift > 0 && shift <= 62 {
		p.half1 = 1<<(shift-1) - 1
	}
	if abs64(mA)+abs64(mB) < 1<<44 && shift <= 62 && abs64(zpA) <= 128 && abs64(zpB) <= 128 {
		// |p| <= 256*(|MA|+|MB|) < 2^52 for int8 inputs and zero points.
		p.fMA, p.fMB, p.fC = float64(mA), float64(mB), -float64(zpA*mA+zpB*mB)
		p.fInv, p.fZp, p.fLo, p.fHi = math.Ldexp(1, -int(shift)), float64(zpOut), float64(lo), float64(hi)
		p.fExact = true
	}
	return p, nil
}

// AddRows computes y[i] from a[i] and b[i] for every i < len(y) (see
// AddParams); a and b must be at least as long as y.
func AddRows(y, a, b []int8, p *AddParams) {
	n := len(y)
	a, b = a[:n], b[:n]
	i := 0
	switch path := ActivePath(); {
	case path == VNNI && hasDQ && p.Shift >= 1 && p.Shift <= 62 && n >= 8:
		i = n &^ 7
		addRescale8(&y[0], &a[0], &b[0], i, p)
	case path == AVX2 && p.fExact && n >= 8:
		i = n &^ 7
		addRescaleAVX2(&y[0], &a[0], &b[0], i, p)
	}
	for ; i < n; i++ {
		s := (int64(a[i])-p.ZpA)*p.MA + (int64(b[i])-p.ZpB)*p.MB
		v := qmath.RoundShift(s, uint(p.Shift)) + p.ZpOut
		y[i] = int8(min(max(v, p.Lo), p.Hi))
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
