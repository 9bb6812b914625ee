package kernels

import (
	"fmt"
	"math"
	"sync/atomic"
)

// The element-wise and per-channel passes of batch normalization (with a
// fused ReLU or ReLU6) over a (rows, cols) matrix whose columns are the
// channels: the rows of an NHWC tensor viewed as (N*H*W, C). Reductions run
// down the rows, one sum per channel, in row order: a SIMD path adds a
// vector of channels per step, which is the same sequence of additions per
// channel as the scalar loop, so every path gives the same bits (the
// element-wise expressions are evaluated in the same order, without fused
// multiply-adds). With the AVX512 path active, the channels in whole
// blocks of 16 go through AVX-512F assembly and the last cols%16 through
// the Go loops; otherwise everything runs the Go loops, which are the
// specification (and the only code under -tags noasm). None of these
// functions splits work across threads: callers split rows for the
// element-wise passes and fixed row chunks for the reductions.

// Act is the activation fused into the normalization passes.
type Act int

const (
	// ActLinear is no activation.
	ActLinear Act = iota
	// ActReLU is max(x, 0).
	ActReLU
	// ActReLU6 is min(max(x, 0), 6).
	ActReLU6
)

// NormParams is a per-channel affine map and activation over (rows, cols)
// matrices, y[r*cols+j] = Act((x[r*cols+j]-Center[j])*Scale[j] + Beta[j]):
// what NormAct computes, and what the backward passes recompute from x to
// mask the gradient (the same operations, so the same bits as the y that
// NormAct wrote). Center, Scale and Beta hold at least cols values.
type NormParams struct {
	Center, Scale, Beta []float32
	Act                 Act
}

// passCalls counts, per path, the calls of the batch-norm and max-pool
// passes that ran that path's code (for the tests that fail if a path the
// CPU supports was not exercised).
var passCalls [numPaths]atomic.Int64

// bnSIMDCols returns how many leading columns the active path computes
// with assembly (a multiple of 16, 0 without AVX-512) and counts the call.
func bnSIMDCols(cols int) int {
	if ActivePath() == AVX512 && cols >= 16 {
		passCalls[AVX512].Add(1)
		return cols &^ 15
	}
	passCalls[Generic].Add(1)
	return 0
}

// checkBN panics unless each matrix holds rows x cols values and each
// per-channel vector cols values: the assembly relies on it.
func checkBN(rows, cols int, mats [][]float32, vecs32 [][]float32, vecs64 [][]float64) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: batch-norm pass with rows=%d cols=%d", rows, cols))
	}
	for _, m := range mats {
		if len(m) < rows*cols {
			panic(fmt.Sprintf("kernels: batch-norm pass: matrix of %d values, want %dx%d", len(m), rows, cols))
		}
	}
	for _, v := range vecs32 {
		if len(v) < cols {
			panic(fmt.Sprintf("kernels: batch-norm pass: vector of %d values, want %d", len(v), cols))
		}
	}
	for _, v := range vecs64 {
		if len(v) < cols {
			panic(fmt.Sprintf("kernels: batch-norm pass: vector of %d values, want %d", len(v), cols))
		}
	}
}

// ChannelSums sets, for each channel j < cols, s[j] and q[j] to the sums
// over the rows, in row order and in float64, of d = x[r*cols+j] - shift[j]
// and of d*d. x is (rows, cols).
func ChannelSums(x []float32, rows, cols int, shift, s, q []float64) {
	checkBN(rows, cols, [][]float32{x}, nil, [][]float64{shift, s, q})
	clear(s[:cols])
	clear(q[:cols])
	if rows == 0 || cols == 0 {
		return
	}
	cv := bnSIMDCols(cols)
	if cv > 0 {
		f64ChannelSumsAVX512(&x[0], rows, cols, cv, &shift[0], &s[0], &q[0])
	}
	if cv < cols {
		channelSumsGo(x, rows, cols, cv, shift, s, q)
	}
}

// channelSumsGo is ChannelSums' loop over channels [j0, cols).
func channelSumsGo(x []float32, rows, cols, j0 int, shift, s, q []float64) {
	sh, s, q := shift[j0:cols], s[j0:cols], q[j0:cols]
	q = q[:len(s)]
	sh = sh[:len(s)]
	for r := 0; r < rows; r++ {
		row := x[r*cols+j0 : r*cols+cols]
		row = row[:len(s)]
		for j, v := range row {
			d := float64(v) - sh[j]
			s[j] += d
			q[j] += d * d
		}
	}
}

// NormAct writes y = act((x - center)*scale + beta), channel by channel,
// for x and y (rows, cols):
//
//	y[r*cols+j] = act((x[r*cols+j]-p.Center[j])*p.Scale[j] + p.Beta[j])
//
// with act(v) = max(v, 0) for ActReLU and min(max(v, 0), 6) for ActReLU6
// (Go's min and max: NaN propagates, max(-0, 0) is +0). y may be x.
func NormAct(x, y []float32, rows, cols int, p NormParams) {
	checkBN(rows, cols, [][]float32{x, y}, [][]float32{p.Center, p.Scale, p.Beta}, nil)
	if rows == 0 || cols == 0 {
		return
	}
	cv := bnSIMDCols(cols)
	if cv > 0 {
		f32NormActAVX512(&x[0], &y[0], rows, cols, cv, &p.Center[0], &p.Scale[0], &p.Beta[0], int(p.Act))
	}
	if cv < cols {
		normActGo(x, y, rows, cols, cv, p)
	}
}

// normAct1 is one value of NormAct.
func normAct1(v, center, scale, beta float32, act Act) float32 {
	t := (v-center)*scale + beta
	switch act {
	case ActReLU:
		return max(t, 0)
	case ActReLU6:
		return min(max(t, 0), 6)
	}
	return t
}

// normActGo is NormAct's loop over channels [j0, cols).
func normActGo(x, y []float32, rows, cols, j0 int, p NormParams) {
	ctr, sc, bt := p.Center[j0:cols], p.Scale[j0:cols], p.Beta[j0:cols]
	sc, bt = sc[:len(ctr)], bt[:len(ctr)]
	for r := 0; r < rows; r++ {
		xr := x[r*cols+j0 : r*cols+cols]
		or := y[r*cols+j0 : r*cols+cols]
		xr, or = xr[:len(ctr)], or[:len(ctr)]
		switch p.Act {
		case ActReLU:
			for j, v := range xr {
				or[j] = max((v-ctr[j])*sc[j]+bt[j], 0)
			}
		case ActReLU6:
			for j, v := range xr {
				or[j] = min(max((v-ctr[j])*sc[j]+bt[j], 0), 6)
			}
		default:
			for j, v := range xr {
				or[j] = (v-ctr[j])*sc[j] + bt[j]
			}
		}
	}
}

// actKeep returns all ones if the gradient at an activation output z
// passes (ReLU: z > 0; ReLU6: also 6-z > 0) and 0 if not, with the
// branch-free test of the activation layers: int32(bits)-1 >= 0, wrapping.
func actKeep(z float32, act Act) uint32 {
	keep := ^uint32((int32(math.Float32bits(z)) - 1) >> 31)
	if act == ActReLU6 {
		keep &= ^uint32((int32(math.Float32bits(6-z)) - 1) >> 31)
	}
	return keep
}

// maskGrad returns dy masked by the activation at x: dy where the output
// z = NormAct's value at x lets the gradient through (actKeep), +0 where
// not; dy itself for ActLinear.
func maskGrad(dy, v float32, j int, p NormParams) float32 {
	if p.Act == ActLinear {
		return dy
	}
	z := normAct1(v, p.Center[j], p.Scale[j], p.Beta[j], p.Act)
	return math.Float32frombits(math.Float32bits(dy) & actKeep(z, p.Act))
}

// ChannelGradSums sets, for each channel j < cols, s[j] and q[j] to the
// sums over the rows, in row order and in float64, of g and of
// g*(x[r*cols+j] - center[j]), where g is dy[r*cols+j] masked by the
// activation p.Act: for ActReLU and ActReLU6, g is dy where the output z =
// NormAct's value at x[r*cols+j], recomputed from p, lets the gradient
// through (z > 0, and z < 6 for ReLU6) and +0 elsewhere; for ActLinear g
// is dy and p's slices are not read (they may be nil). x and dy are (rows,
// cols).
func ChannelGradSums(x, dy []float32, rows, cols int, p NormParams, center, s, q []float64) {
	checkBN(rows, cols, nil, nil, [][]float64{s, q})
	clear(s[:cols])
	clear(q[:cols])
	ChannelGradSumsAdd(x, dy, rows, cols, p, center, s, q)
}

// ChannelGradSumsAdd is ChannelGradSums adding to s and q instead of
// overwriting them: calls on consecutive row ranges, after clearing s and
// q, make the same additions in the same order as one ChannelGradSums
// over all the rows, hence the same bits (a caller that builds dy a block
// of rows at a time, say).
func ChannelGradSumsAdd(x, dy []float32, rows, cols int, p NormParams, center, s, q []float64) {
	var vecs [][]float32
	if p.Act != ActLinear {
		vecs = [][]float32{p.Center, p.Scale, p.Beta}
	}
	checkBN(rows, cols, [][]float32{x, dy}, vecs, [][]float64{center, s, q})
	if rows == 0 || cols == 0 {
		return
	}
	cv := bnSIMDCols(cols)
	if cv > 0 {
		zc, zs, zb := &x[0], &x[0], &x[0] // not read for ActLinear
		if p.Act != ActLinear {
			zc, zs, zb = &p.Center[0], &p.Scale[0], &p.Beta[0]
		}
		f64ChannelGradSumsAVX512(&x[0], &dy[0], rows, cols, cv, zc, zs, zb, &center[0], &s[0], &q[0], int(p.Act))
	}
	if cv < cols {
		channelGradSumsGo(x, dy, rows, cols, cv, p, center, s, q)
	}
}

// channelGradSumsGo is ChannelGradSums' loop over channels [j0, cols).
func channelGradSumsGo(x, dy []float32, rows, cols, j0 int, p NormParams, center, s, q []float64) {
	ctr, s, q := center[j0:cols], s[j0:cols], q[j0:cols]
	ctr, q = ctr[:len(s)], q[:len(s)]
	for r := 0; r < rows; r++ {
		xr := x[r*cols+j0 : r*cols+cols]
		dr := dy[r*cols+j0 : r*cols+cols]
		xr, dr = xr[:len(s)], dr[:len(s)]
		if p.Act == ActLinear {
			for j, g := range dr {
				gd := float64(g)
				s[j] += gd
				q[j] += gd * (float64(xr[j]) - ctr[j])
			}
			continue
		}
		for j, v := range xr {
			gd := float64(maskGrad(dr[j], v, j0+j, p))
			s[j] += gd
			q[j] += gd * (float64(v) - ctr[j])
		}
	}
}

// NormActGrad writes, for x, dy and dx (rows, cols),
//
//	dx[r*cols+j] = k1[j]*g + k2[j]*(x[r*cols+j]-p.Center[j]) + k3[j]
//
// evaluated left to right, where g is dy[r*cols+j] masked by the
// activation as in ChannelGradSums (p.Scale and p.Beta are not read for
// ActLinear and may be nil). dx may be dy.
func NormActGrad(x, dy, dx []float32, rows, cols int, p NormParams, k1, k2, k3 []float32) {
	vecs := [][]float32{p.Center, k1, k2, k3}
	if p.Act != ActLinear {
		vecs = append(vecs, p.Scale, p.Beta)
	}
	checkBN(rows, cols, [][]float32{x, dy, dx}, vecs, nil)
	if rows == 0 || cols == 0 {
		return
	}
	cv := bnSIMDCols(cols)
	if cv > 0 {
		zs, zb := &x[0], &x[0] // not read for ActLinear
		if p.Act != ActLinear {
			zs, zb = &p.Scale[0], &p.Beta[0]
		}
		f32NormActGradAVX512(&x[0], &dy[0], &dx[0], rows, cols, cv, &p.Center[0], zs, zb, &k1[0], &k2[0], &k3[0], int(p.Act))
	}
	if cv < cols {
		normActGradGo(x, dy, dx, rows, cols, cv, p, k1, k2, k3)
	}
}

// normActGradGo is NormActGrad's loop over channels [j0, cols).
func normActGradGo(x, dy, dx []float32, rows, cols, j0 int, p NormParams, k1, k2, k3 []float32) {
	ctr, a1, a2, a3 := p.Center[j0:cols], k1[j0:cols], k2[j0:cols], k3[j0:cols]
	a1, a2, a3 = a1[:len(ctr)], a2[:len(ctr)], a3[:len(ctr)]
	for r := 0; r < rows; r++ {
		xr := x[r*cols+j0 : r*cols+cols]
		dr := dy[r*cols+j0 : r*cols+cols]
		or := dx[r*cols+j0 : r*cols+cols]
		xr = xr[:len(ctr)]
		dr, or = dr[:len(xr)], or[:len(xr)]
		if p.Act == ActLinear {
			for j, v := range xr {
				or[j] = a1[j]*dr[j] + a2[j]*(v-ctr[j]) + a3[j]
			}
			continue
		}
		for j, v := range xr {
			g := maskGrad(dr[j], v, j0+j, p)
			or[j] = a1[j]*g + a2[j]*(v-ctr[j]) + a3[j]
		}
	}
}
