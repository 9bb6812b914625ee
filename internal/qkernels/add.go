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

	w16 *addWords // the 16-lane VNNI loop's constants; nil where it does not apply
}

// addWords are the constants of the 16-lane AVX-512 VNNI Add
// (addRescale16), which works in int32 lanes: each mantissa split as
// M = h*2^16 + l with h and l signed 16-bit, the input pair (a, b) as two
// int16 words of one lane, so that VPDPWSSD forms
//
//	H = (a-ZpA)*hA + (b-ZpB)*hB,  L = (a-ZpA)*lA + (b-ZpB)*lB
//
// and p = H*2^16 + L exactly. With H' = H + (L>>16) and L' = L & 0xFFFF,
// p = H'*2^16 + L' (0 <= L' < 2^16), so for 17 <= Shift <= 47 the
// round-half-even p / 2^Shift of AddParams is
//
//	(H' + 2^(Shift-17) - borrow) >> (Shift-16)
//
// where borrow is 1 when bit Shift-16 of H' (the parity of the floor) is
// 0 and L' is 0, else 0: p + 2^(Shift-1) - 1 + parity, shifted, in 32-bit
// lanes. |H'| < 2^25 for int8 inputs, so nothing overflows. The field
// order is the layout the assembly reads.
type addWords struct {
	HW, LW int32 // hA | hB<<16, lA | lB<<16 (as words)
	CH, CL int32 // -(ZpA*hA + ZpB*hB), -(ZpA*lA + ZpB*lB)
	Odd    int32 // 1 << (Shift-16)
	Half   int32 // 1 << (Shift-17)
	Sh     int32 // Shift - 16
	Zp     int32
	Lo, Hi int32
}

// newAddWords returns the 16-lane constants of p, nil if its shift or
// mantissas are outside the loop's range.
func newAddWords(p *AddParams) *addWords {
	if p.Shift < 17 || p.Shift > 47 || p.ZpA < -128 || p.ZpA > 127 || p.ZpB < -128 || p.ZpB > 127 {
		return nil
	}
	split := func(m int64) (h, l int64, ok bool) {
		l = int64(int16(m)) // low 16 bits, signed
		h = (m - l) >> 16
		return h, l, h >= -1<<15 && h < 1<<15
	}
	hA, lA, okA := split(p.MA)
	hB, lB, okB := split(p.MB)
	if !okA || !okB {
		return nil
	}
	word := func(lo, hi int64) int32 { return int32(uint32(uint16(lo)) | uint32(uint16(hi))<<16) }
	return &addWords{
		HW: word(hA, hB), LW: word(lA, lB),
		CH: int32(-(p.ZpA*hA + p.ZpB*hB)), CL: int32(-(p.ZpA*lA + p.ZpB*lB)),
		Odd: 1 << (p.Shift - 16), Half: 1 << (p.Shift - 17), Sh: int32(p.Shift - 16),
		Zp: int32(p.ZpOut), Lo: int32(p.Lo), Hi: int32(p.Hi),
	}
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
	if zpOut >= -1<<20 && zpOut <= 1<<20 {
		p.w16 = newAddWords(p)
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
	case path == VNNI && p.w16 != nil && n > 0:
		addRescale16(&y[0], &a[0], &b[0], n, p.w16)
		return
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
