package qkernels

import (
	"fmt"
	"math"
)

// Requant16 is the integer LSTM's requantization of int32 products to
// int16 gate terms (docs/DESIGN.md, Runtime and kernels; docs/lstm.md): for column j
// of a row of n,
//
//	q      = sat16(round_half_even(int64(a[j] + off[j]) * M0[j] / 2^S[j]))
//	out[j] = q                      (add nil)
//	out[j] = sat16(q + add[j])      (the recurrent term added to the input projection)
//
// with a[j] + off[j] wrapping in int32, 0 <= M0[j] < 2^31 and 1 <= S[j] <=
// 62. With AVX-512 (the VNNI path active when it is built) the rows run
// 16 columns at a time in assembly, else in the Go loop below; both give
// the same integers. It is read-only once built and may be shared.
type Requant16 struct {
	n      int
	m0     []int64
	half   []int64 // 2^(S-1) - 1
	s      []uint
	groups []rq16Group // the assembly's layout; nil for the Go loop
}

// rq16Group holds the constants of 16 columns in the layout rq16AVX512
// reads: each [2][8]int64 the even columns (0, 2, ..., 14), then the odd
// ones, matching the two VPMULDQ products of one 16-lane vector; m0 at
// byte 0, the shift at 128, 2^(S-1)-1 at 256. Columns past n have M0 0
// and shift 1.
type rq16Group struct {
	m0    [2][8]int64
	shift [2][8]int64
	half  [2][8]int64
}

// NewRequant16 returns the requantization of len(m0) columns with
// mantissas m0 and shifts s. vec asks for the assembly when the CPU has
// it. It returns an error when a mantissa or shift is outside the ranges
// above.
func NewRequant16(m0 []int64, s []uint, vec bool) (*Requant16, error) {
	if len(m0) != len(s) || len(m0) == 0 {
		return nil, fmt.Errorf("qkernels: Requant16 of %d mantissas and %d shifts", len(m0), len(s))
	}
	r := &Requant16{n: len(m0), m0: append([]int64(nil), m0...), s: append([]uint(nil), s...), half: make([]int64, len(m0))}
	for j, m := range m0 {
		if m < 0 || m > math.MaxInt32 || s[j] < 1 || s[j] > 62 {
			return nil, fmt.Errorf("qkernels: Requant16 column %d: mantissa %d, shift %d", j, m, s[j])
		}
		r.half[j] = int64(1)<<(s[j]-1) - 1
	}
	if vec && hasVNNI {
		r.groups = make([]rq16Group, (r.n+15)/16)
		for j := range r.groups {
			g := &r.groups[j]
			for l := 0; l < 16; l++ {
				h, i := l%2, l/2
				g.shift[h][i] = 1
				if c := 16*j + l; c < r.n {
					g.m0[h][i], g.shift[h][i], g.half[h][i] = r.m0[c], int64(r.s[c]), r.half[c]
				}
			}
		}
	}
	return r, nil
}

// N returns the number of columns.
func (r *Requant16) N() int { return r.n }

// Vector reports whether Rows runs in assembly.
func (r *Requant16) Vector() bool { return r.groups != nil }

// Rows computes one row of n columns (see Requant16): a, off and out
// hold n values, add n values or is nil. It panics if a slice is short
// (a programming error: the callers size them from the op).
func (r *Requant16) Rows(a, off []int32, add, out []int16) {
	n := r.n
	a, off, out = a[:n], off[:n], out[:n]
	if add != nil {
		add = add[:n]
	}
	if r.groups != nil {
		var pa *int16
		if add != nil {
			pa = &add[0]
		}
		rq16AVX512(&a[0], &off[0], pa, &out[0], &r.groups[0], n)
		return
	}
	m0, half, sh := r.m0[:n], r.half[:n], r.s[:n]
	for j, v := range a {
		p := int64(v+off[j]) * m0[j]
		s := sh[j] & 63
		q := min(max((p+half[j]+((p>>s)&1))>>s, math.MinInt16), math.MaxInt16)
		if add != nil {
			q = min(max(q+int64(add[j]), math.MinInt16), math.MaxInt16)
		}
		out[j] = int16(q)
	}
}
