package ops

import "github.com/goqat/goqat/internal/kernels"

// ZeroPadForward sets out (N, H+t+b, W+l+r, C) to in (N,H,W,C) surrounded by
// t, b, l, r rows/columns of zeros on the top, bottom, left and right.
// Output rows are split across threads.
func ZeroPadForward(n, h, w, c, t, b, l, r int, in, out []float32) {
	oh, ow := h+t+b, w+l+r
	kernels.ParallelFor(n*oh, parGrain(ow*c), func(lo, hi int) {
		ZeroPadRows(h, w, c, t, b, l, r, in, out, lo, hi)
	})
}

// ZeroPadRows writes output rows [lo, hi) of ZeroPadForward (numbered
// n*(H+t+b)+y) on the calling goroutine.
func ZeroPadRows(h, w, c, t, b, l, r int, in, out []float32, lo, hi int) {
	oh, ow := h+t+b, w+l+r
	for row := lo; row < hi; row++ {
		i, y := row/oh, row%oh
		o := out[row*ow*c : (row+1)*ow*c]
		if y < t || y >= t+h {
			clear(o)
			continue
		}
		clear(o[:l*c])
		src := (i*h + y - t) * w * c
		copy(o[l*c:(l+w)*c], in[src:src+w*c])
		clear(o[(l+w)*c:])
	}
}

// ZeroPadBackward sets dIn (N,H,W,C) to the gradient of ZeroPadForward: the
// inner (H, W) window of dOut (N, H+t+b, W+l+r, C).
func ZeroPadBackward(n, h, w, c, t, b, l, r int, dOut, dIn []float32) {
	oh, ow := h+t+b, w+l+r
	kernels.ParallelFor(n*h, parGrain(w*c), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			i, y := row/h, row%h
			src := ((i*oh+y+t)*ow + l) * c
			copy(dIn[row*w*c:(row+1)*w*c], dOut[src:src+w*c])
		}
	})
}
