package qkernels

import "fmt"

// MaxWindows writes n pixels of a max pooling whose windows lie inside the
// image (NHWC rows, channels in vector lanes): for ox < n and ch < c,
//
//	y[ox*c+ch] = max over t of x[ox*step+offs[t]+ch]
//
// with offs the window's taps (at least one) relative to its first
// pixel. One call computes an output row. It panics (a programming error)
// when y or x is too short or a tap offset is negative.
func MaxWindows(y, x []int8, offs []int, n, c, step int) {
	if n <= 0 || c <= 0 {
		return
	}
	last := 0
	for _, o := range offs {
		if o < 0 {
			panic("qkernels: MaxWindows: negative tap offset")
		}
		last = max(last, o)
	}
	if len(offs) == 0 || len(y) < n*c || len(x) < (n-1)*step+last+c {
		panic(fmt.Sprintf("qkernels: MaxWindows: %d taps, %d outputs and %d inputs for %d pixels of %d channels", len(offs), len(y), len(x), n, c))
	}
	if ActivePath() == VNNI {
		maxWindows512(&y[0], &x[0], &offs[0], len(offs), n, c, step)
		return
	}
	for ox := 0; ox < n; ox++ {
		yr := y[ox*c : (ox+1)*c]
		copy(yr, x[ox*step+offs[0]:])
		for _, o := range offs[1:] {
			MaxRow(yr, x[ox*step+o:])
		}
	}
}
