package kernels

import "fmt"

// Element-wise passes of the float inference path: an activation alone,
// and the sum of two tensors followed by an activation (a residual Add and
// the ReLU after it in one pass). The values are those of the Go loops,
// y = act(a + b) with Go's + and Go's max and min (as the layers' Forward
// computes them one after the other): with the AVX512 path active, blocks
// of 16 values go through AVX-512F assembly that lowers max and min as the
// Go compiler does (bn_avx512_amd64.s), the rest through the Go loops,
// which are the specification (docs/DESIGN.md, Runtime and kernels).

// act1 is one value of an activation: max(v, 0) for ActReLU, min(max(v,
// 0), 6) for ActReLU6, v for ActLinear.
func act1(v float32, act Act) float32 {
	switch act {
	case ActReLU:
		return max(v, 0)
	case ActReLU6:
		return min(max(v, 0), 6)
	}
	return v
}

// addActSIMD returns how many leading values of n the active path computes
// with assembly (a multiple of 16) and counts the call.
func addActSIMD(n int) int {
	if ActivePath() == AVX512 && n >= 16 {
		passCalls[AVX512].Add(1)
		return n &^ 15
	}
	passCalls[Generic].Add(1)
	return 0
}

// AddAct writes y[i] = act(a[i] + b[i]) for i < len(y); a and b hold at
// least len(y) values, and y may be a or b.
func AddAct(a, b, y []float32, act Act) {
	n := len(y)
	if len(a) < n || len(b) < n {
		panic(fmt.Sprintf("kernels: AddAct of %d values from %d and %d", n, len(a), len(b)))
	}
	if n == 0 {
		return
	}
	v := addActSIMD(n)
	if v > 0 {
		f32AddActAVX512(&a[0], &b[0], &y[0], v, int(act))
	}
	a, b = a[v:n], b[v:n]
	for i, x := range a {
		y[v+i] = act1(x+b[i], act)
	}
}

// ActRows writes y[i] = act(x[i]) for i < len(y); x holds at least len(y)
// values, and y may be x.
func ActRows(x, y []float32, act Act) {
	n := len(y)
	if len(x) < n {
		panic(fmt.Sprintf("kernels: ActRows of %d values from %d", n, len(x)))
	}
	if n == 0 {
		return
	}
	v := addActSIMD(n)
	if v > 0 {
		f32ActAVX512(&x[0], &y[0], v, int(act))
	}
	for i, e := range x[v:n] {
		y[v+i] = act1(e, act)
	}
}

// BiasAct writes y[r*ld+j] = act(y[r*ld+j] + bias[j]) for r < rows and j <
// len(bias): a layer's bias add and the activation after it in one pass
// over rows of a product (the layers compute the same two steps, Go's +
// then Go's max and min).
func BiasAct(y []float32, rows, ld int, bias []float32, act Act) {
	cols := len(bias)
	if rows <= 0 || cols == 0 {
		return
	}
	if ld < cols || len(y) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: BiasAct of %d rows of %d (stride %d) in %d values", rows, cols, ld, len(y)))
	}
	v := addActSIMD(cols)
	if v > 0 {
		f32BiasActAVX512(&y[0], &bias[0], rows, v, ld, int(act))
	}
	if v == cols {
		return
	}
	for r := 0; r < rows; r++ {
		row := y[r*ld+v : r*ld+cols]
		for j, b := range bias[v:] {
			row[j] = act1(row[j]+b, act)
		}
	}
}
