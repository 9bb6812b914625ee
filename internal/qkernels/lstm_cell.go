package qkernels

import (
	"fmt"
	"math"
)

// CellTableLen is the length of the tables an LSTMCell reads: the Q3.12
// -> Q0.15 sigmoid of every int16 code (entry z + 32768), then tanh
// likewise, then two entries of padding (the gathers read a dword at each
// entry).
const CellTableLen = 2<<16 + 2

// LSTMCell is the integer LSTM's (or SimpleRNN's, or GRU's) cell step in AVX-512
// assembly (docs/DESIGN.md, Runtime and kernels; docs/lstm.md): with i, f, o the
// sigmoid and g the tanh of the four Q3.12 gate blocks of z, per unit j
//
//	c[j] = sat16(round(f c[j] / 2^15) + round(i g / 2^(30+E)))
//	tc   = tanh(sat16(c[j] * 2^(12+E)))
//	h[j] = clamp(round(o tc M0 / 2^S) + zh, lo, hi)
//
// and for a SimpleRNN h[j] = clamp(round(tanh(z[j]) M0 / 2^S) + zh, lo,
// hi), every rounding half to even; a GRU's step is StepGRU. lite's
// lstmCell, rnnCell and gruCell are the pure-Go reference it matches bit
// for bit. It is read-only once built and
// may be shared.
type LSTMCell struct {
	tab []int16
	k   cellConsts
}

// cellConsts is the layout the cell assembly reads: the shift 30+E of i g
// at byte 0, 2^(29+E)-1 at 8, 12+E at 16, M0 at 24, S at 32, 2^(S-1)-1 at
// 40, zh, lo, hi at 48, 56, 64; for a GRU m1 in M0's place and m2 at 72.
type cellConsts struct {
	igShift, igHalf, tShift int64
	m0, s, half             int64
	zh, lo, hi              int64
	m2                      int64 // the GRU's second multiplier
}

// CellSupported reports whether this build and CPU run LSTMCell (the
// AVX-512 instructions of the VNNI path).
func CellSupported() bool { return hasVNNI }

// NewLSTMCell returns the cell of exponent e (-12..0) with output
// multiplier (m0, s) (0 <= m0 < 2^31, 1 <= s <= 62), zero point zh and
// clamp [lo, hi] (within int8), reading tables of CellTableLen entries
// (shared, not copied). It returns an error where the CPU lacks the
// instructions or a constant is out of range.
func NewLSTMCell(tab []int16, e int, m0 int64, s uint, zh, lo, hi int64) (*LSTMCell, error) {
	if !hasVNNI {
		return nil, fmt.Errorf("qkernels: the LSTM cell needs AVX-512")
	}
	if len(tab) != CellTableLen || e < -12 || e > 0 || m0 < 0 || m0 > math.MaxInt32 || s < 1 || s > 62 ||
		lo < -128 || hi > 127 || lo > hi || zh < -128 || zh > 127 {
		return nil, fmt.Errorf("qkernels: LSTM cell constants out of range (e %d, m0 %d, s %d, zh %d, [%d, %d])", e, m0, s, zh, lo, hi)
	}
	ig := int64(30 + e)
	return &LSTMCell{tab: tab, k: cellConsts{igShift: ig, igHalf: 1<<(ig-1) - 1, tShift: int64(12 + e),
		m0: m0, s: int64(s), half: 1<<(s-1) - 1, zh: zh, lo: lo, hi: hi}}, nil
}

// NewGRUCell returns the cell of a GRU (Keras's reset_after form) with
// the common-shift output multipliers m1 (of 2^-15) and m2 (of 2^-30 /
// sh) and shift s (0 <= m1, m2 < 2^31, 1 <= s <= 62), zero point zh and
// clamp [lo, hi], reading tables of CellTableLen entries. It returns an
// error where the CPU lacks the instructions or a constant is out of
// range.
func NewGRUCell(tab []int16, m1, m2 int64, s uint, zh, lo, hi int64) (*LSTMCell, error) {
	if m2 < 0 || m2 > math.MaxInt32 {
		return nil, fmt.Errorf("qkernels: GRU cell multiplier %d out of range", m2)
	}
	c, err := NewLSTMCell(tab, 0, m1, s, zh, lo, hi)
	if err != nil {
		return nil, err
	}
	c.k.m2 = m2
	return c, nil
}

// Step runs one LSTM step of len(c) units: z (4U) the gate
// pre-activations, c (U) the cell state, updated, h (U) the output codes
// written. It panics if z or h is short.
func (l *LSTMCell) Step(z, c []int16, h []int8) {
	u := len(c)
	if u == 0 {
		return
	}
	_, _ = z[4*u-1], h[u-1]
	lstmCellAVX512(&z[0], &c[0], &h[0], u, &l.tab[0], &l.k)
}

// StepRNN runs one SimpleRNN step of len(h) units: h[j] the code of
// tanh(z[j]). It panics if z is short.
func (l *LSTMCell) StepRNN(z []int16, h []int8) {
	u := len(h)
	if u == 0 {
		return
	}
	_ = z[u-1]
	rnnCellAVX512(&z[0], &h[0], u, &l.tab[0], &l.k)
}

// StepGRU runs one GRU step of len(h) units: px and pr (3U, Q3.12) the
// input and recurrent products of the z, r and h columns, h the previous
// output codes, replaced by the new ones (lite's gruCell). It panics if px
// or pr is short.
func (l *LSTMCell) StepGRU(px, pr []int16, h []int8) {
	u := len(h)
	if u == 0 {
		return
	}
	_, _ = px[3*u-1], pr[3*u-1]
	gruCellAVX512(&px[0], &pr[0], &h[0], u, &l.tab[0], &l.k)
}
