package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// convCase is one convolution geometry used by the tests of this file and
// of the depthwise and separable layers.
type convCase struct {
	h, w, c, kh, kw, s int
	padding            string
}

func (cc convCase) String() string {
	return fmt.Sprintf("in%dx%dx%d_k%dx%d_s%d_%s", cc.h, cc.w, cc.c, cc.kh, cc.kw, cc.s, cc.padding)
}

// convCases: odd sizes, stride 1 and 2, valid and same, and a 1x1.
var convCases = []convCase{
	{7, 6, 3, 3, 3, 1, "valid"},
	{7, 6, 3, 3, 3, 1, "same"},
	{7, 6, 3, 3, 3, 2, "valid"},
	{7, 6, 3, 3, 3, 2, "same"},
	{5, 7, 2, 2, 3, 2, "same"},
	{4, 5, 3, 1, 1, 1, "valid"},
}

// convRandTensor returns a tensor of normal values.
func convRandTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// convSamePad is TensorFlow's 'same' padding before the first element.
func convSamePad(in, k, s int) int {
	out := (in + s - 1) / s
	return max((out-1)*s+k-in, 0) / 2
}

// convNaive is the direct convolution (float64): x (N,H,W,C), w
// (KH,KW,C,F/ C for depthwise), b (F) or nil. With depthwise, channel c uses
// w[kh,kw,c] only.
func convNaive(x *tensor.Tensor, w []float32, b []float32, f, kh, kw, sh, sw int, padding string, depthwise bool) []float64 {
	n, h, wd, c := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	var pt, pl, oh, ow int
	if padding == "same" {
		pt, pl = convSamePad(h, kh, sh), convSamePad(wd, kw, sw)
		oh, ow = (h+sh-1)/sh, (wd+sw-1)/sw
	} else {
		oh, ow = (h-kh)/sh+1, (wd-kw)/sw+1
	}
	out := make([]float64, n*oh*ow*f)
	for i := 0; i < n; i++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				for o := 0; o < f; o++ {
					var s float64
					if b != nil {
						s = float64(b[o])
					}
					for a := 0; a < kh; a++ {
						for e := 0; e < kw; e++ {
							ih, iw := y*sh-pt+a, xx*sw-pl+e
							if ih < 0 || ih >= h || iw < 0 || iw >= wd {
								continue
							}
							for ch := 0; ch < c; ch++ {
								if depthwise && ch != o {
									continue
								}
								v := float64(x.Data[((i*h+ih)*wd+iw)*c+ch])
								if depthwise {
									s += v * float64(w[(a*kw+e)*c+ch])
								} else {
									s += v * float64(w[((a*kw+e)*c+ch)*f+o])
								}
							}
						}
					}
					out[((i*oh+y)*ow+xx)*f+o] = s
				}
			}
		}
	}
	return out
}

// convCheckClose compares got with want within tol (relative above 1).
func convCheckClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*math.Max(1, math.Abs(want[i]))) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// convBits reports whether a and b are identical bit for bit.
func convBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// convRoundTrip saves l's config as JSON, rebuilds the layer through the
// registry and checks that the config survives.
func convRoundTrip(t *testing.T, l Layer) Layer {
	t.Helper()
	raw, err := json.Marshal(l.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctor, err := lookup(l.Type())
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ctor("x_1", raw)
	if err != nil {
		t.Fatalf("%s from %s: %v", l.Type(), raw, err)
	}
	raw2, _ := json.Marshal(l2.Config())
	if string(raw) != string(raw2) || l2.Name() != "x_1" || l2.Type() != l.Type() {
		t.Fatalf("round trip: %s -> %s", raw, raw2)
	}
	return l2
}

func TestConv2DGradients(t *testing.T) {
	for _, cc := range convCases {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v_bias%v", cc, bias), func(t *testing.T) {
				l := NewConv2D(5, cc.kh, cc.kw)
				l.Strides = [2]int{cc.s, cc.s}
				l.Padding, l.UseBias = cc.padding, bias
				gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{cc.h, cc.w, cc.c})
			})
		}
	}
}

// TestConv2DGradientsChunked forces one image per im2col chunk so that the
// chunked weight-gradient accumulation is checked too, with the whole col
// matrix kept from Forward and with the chunks packed again in Backward.
func TestConv2DGradientsChunked(t *testing.T) {
	defer func(v, k int) { convChunkFloats, convKeepFloats = v, k }(convChunkFloats, convKeepFloats)
	convChunkFloats = 1
	for _, keep := range []int{1 << 30, 0} {
		convKeepFloats = keep
		l := NewConv2D(4, 3, 3)
		l.Strides, l.Padding = [2]int{2, 1}, "same"
		gradCheck(t, l, 3, true, 1e-2, 2e-2, tensor.Shape{6, 5, 3})
	}
}

// TestConv2DKeptColSameBits checks that keeping the whole col matrix from
// Forward gives Backward results bit for bit equal to packing the chunks
// again.
func TestConv2DKeptColSameBits(t *testing.T) {
	defer func(v, k int) { convChunkFloats, convKeepFloats = v, k }(convChunkFloats, convKeepFloats)
	convChunkFloats = 2 * 4 * 4 * 27 // two images per chunk
	cc := convCase{6, 6, 3, 3, 3, 1, "valid"}
	var got [2][]float32
	for i, keep := range []int{1 << 30, 0} {
		convKeepFloats = keep
		r := rand.New(rand.NewPCG(9, 9))
		l := convNewRandom(t, r, cc, 5, true)
		x := convRandTensor(r, 5, 6, 6, 3)
		dOut := convRandTensor(r, 5, 4, 4, 5)
		l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
		dIn := l.Backward(&Context{Training: true}, dOut)[0]
		if l.colKept != (keep != 0) {
			t.Fatalf("keep %d: colKept %v", keep, l.colKept)
		}
		got[i] = append(append(append([]float32(nil), dIn.Data...), l.Kernel.Grad.Data...), l.Bias.Grad.Data...)
	}
	for i := range got[0] {
		if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
			t.Fatalf("value %d: kept col %v, packed again %v", i, got[0][i], got[1][i])
		}
	}
}

// convForward builds a Conv2D with random weights and returns it.
func convNewRandom(t *testing.T, r *rand.Rand, cc convCase, f int, bias bool) *Conv2D {
	t.Helper()
	l := NewConv2D(f, cc.kh, cc.kw)
	l.Strides, l.Padding, l.UseBias = [2]int{cc.s, cc.s}, cc.padding, bias
	if _, err := l.Build([]tensor.Shape{{cc.h, cc.w, cc.c}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64())
		}
	}
	return l
}

func TestConv2DForwardNaive(t *testing.T) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	r := rand.New(rand.NewPCG(3, 3))
	cases := append([]convCase{{11, 9, 4, 5, 3, 2, "same"}, {9, 9, 2, 3, 3, 3, "valid"}}, convCases...)
	for _, chunk := range []int{1 << 30, 1} { // one chunk, one image per chunk
		convChunkFloats = chunk
		for _, cc := range cases {
			l := convNewRandom(t, r, cc, 7, true)
			x := convRandTensor(r, 3, cc.h, cc.w, cc.c)
			out := l.Forward(&Context{}, []*tensor.Tensor{x})
			want := convNaive(x, l.Kernel.Value.Data, l.Bias.Value.Data, 7, cc.kh, cc.kw, cc.s, cc.s, cc.padding, false)
			convCheckClose(t, cc.String(), out.Data, want, 1e-4)
		}
	}
}

// TestConv2DReuse runs Forward and Backward with batch 4, then 2, then 4
// again, and checks each against a fresh layer with the same weights.
func TestConv2DReuse(t *testing.T) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	convChunkFloats = 2 * 4 * 4 * 27 // two images per chunk
	r := rand.New(rand.NewPCG(4, 4))
	cc := convCase{6, 6, 3, 3, 3, 1, "valid"}
	l := convNewRandom(t, r, cc, 5, true)
	for _, n := range []int{4, 2, 4, 3} {
		x := convRandTensor(r, n, 6, 6, 3)
		dOut := convRandTensor(r, n, 4, 4, 5)
		out := l.Forward(&Context{Training: true}, []*tensor.Tensor{x}).Clone()
		dIn := l.Backward(&Context{Training: true}, dOut)[0].Clone()
		dW := l.Kernel.Grad.Clone()
		dB := l.Bias.Grad.Clone()

		fresh := NewConv2D(5, 3, 3)
		if _, err := fresh.Build([]tensor.Shape{{6, 6, 3}}); err != nil {
			t.Fatal(err)
		}
		copy(fresh.Kernel.Value.Data, l.Kernel.Value.Data)
		copy(fresh.Bias.Value.Data, l.Bias.Value.Data)
		o2 := fresh.Forward(&Context{Training: true}, []*tensor.Tensor{x})
		d2 := fresh.Backward(&Context{Training: true}, dOut)[0]
		if !convBits(out.Data, o2.Data) || !convBits(dIn.Data, d2.Data) ||
			!convBits(dW.Data, fresh.Kernel.Grad.Data) || !convBits(dB.Data, fresh.Bias.Grad.Data) {
			t.Fatalf("batch %d: reused layer differs from a fresh one", n)
		}
		want := convNaive(x, l.Kernel.Value.Data, l.Bias.Value.Data, 5, 3, 3, 1, 1, "valid", false)
		convCheckClose(t, fmt.Sprint("batch ", n), out.Data, want, 1e-4)
	}
}

// convRunTwice runs Forward and Backward of l on random data under 1 and 2
// threads and fails unless every output is bit-identical.
func convRunTwice(t *testing.T, l Layer, in tensor.Shape, n int) {
	t.Helper()
	defer kernels.SetThreads(kernels.Threads())
	outShape, err := l.Build([]tensor.Shape{in})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64())
		}
	}
	x := convRandTensor(r, append([]int{n}, in...)...)
	dOut := convRandTensor(r, append([]int{n}, outShape...)...)
	var res [2][]float32
	for i, th := range []int{1, 2} {
		kernels.SetThreads(th)
		res[i] = append(res[i], l.Forward(&Context{Training: true}, []*tensor.Tensor{x}).Data...)
		res[i] = append(res[i], l.Backward(&Context{Training: true}, dOut)[0].Data...)
		for _, p := range l.Params() {
			res[i] = append(res[i], p.Grad.Data...)
		}
	}
	if !convBits(res[0], res[1]) {
		t.Fatalf("%s: results differ between 1 and 2 threads", l.Type())
	}
}

func TestConv2DThreads(t *testing.T) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	convChunkFloats = 3 * 100 * 27 // three images per chunk
	l := NewConv2D(16, 3, 3)
	l.Padding = "same"
	convRunTwice(t, l, tensor.Shape{10, 10, 3}, 7)
	convRunTwice(t, NewConv2D(8, 1, 1), tensor.Shape{5, 6, 12}, 3)
}

func TestConv2DBuildErrors(t *testing.T) {
	l := NewConv2D(4, 3, 3)
	l.SetName("conv2d_1")
	_, err := l.Build([]tensor.Shape{{2, 2, 3}})
	if err == nil || err.Error() != `conv2d_1: input (2, 2, 3) is smaller than kernel 3x3 with padding "valid"` {
		t.Errorf("small input: %v", err)
	}
	l.Padding = "same"
	if _, err := l.Build([]tensor.Shape{{2, 2, 3}}); err != nil {
		t.Errorf("same padding on a small input: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*Conv2D)
		in   []tensor.Shape
		want string
	}{
		{func(l *Conv2D) { l.Padding = "full" }, []tensor.Shape{{5, 5, 1}}, "padding"},
		{func(l *Conv2D) { l.Filters = 0 }, []tensor.Shape{{5, 5, 1}}, "filters"},
		{func(l *Conv2D) { l.Strides = [2]int{0, 1} }, []tensor.Shape{{5, 5, 1}}, "strides"},
		{func(l *Conv2D) { l.KernelSize = [2]int{3, -1} }, []tensor.Shape{{5, 5, 1}}, "kernel_size"},
		{func(l *Conv2D) {}, []tensor.Shape{{5, 5}}, "rank 3"},
		{func(l *Conv2D) {}, []tensor.Shape{{5, 0, 2}}, "non-positive"},
		{func(l *Conv2D) {}, []tensor.Shape{{5, 5, 2}, {5, 5, 2}}, "1 input"},
	} {
		l := NewConv2D(4, 3, 3)
		l.SetName("conv2d_9")
		tc.mod(l)
		_, err := l.Build(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "conv2d_9: ") {
			t.Errorf("want an error naming conv2d_9 and %q, got %v", tc.want, err)
		}
	}
}

func TestConv2DConfig(t *testing.T) {
	l := NewConv2D(32, 3, 3)
	l.UseBias = false
	raw, _ := json.Marshal(l.Config())
	if want := `{"filters":32,"kernel_size":[3,3],"strides":[1,1],"padding":"valid","use_bias":false}`; string(raw) != want {
		t.Errorf("config %s, want %s", raw, want)
	}
	l.Strides, l.Padding = [2]int{2, 1}, "same"
	convRoundTrip(t, l)
	ctor, _ := lookup("Conv2D")
	l2, err := ctor("c", json.RawMessage(`{"filters":8,"kernel_size":[5,5]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := l2.(*Conv2D); c.Strides != [2]int{1, 1} || c.Padding != "valid" || !c.UseBias {
		t.Errorf("defaults not applied: %+v", c.Config())
	}
	for _, bad := range []string{
		`{"filters":0,"kernel_size":[3,3]}`,
		`{"filters":4,"kernel_size":[3,3],"padding":"SAME"}`,
		`{"filters":4,"kernel_size":[3,3],"dilation_rate":[2,2],"strides":[2,1]}`,
		`{"filters":4,"kernel_size":[3,3],"dilation_rate":[-1,1]}`,
		`{"filters":4,"kernel_size":[3,3],"dilation_rate":[1073741824,1]}`,
		`{"filters":4,"kernel_size":[3,3],"groups":3}`,
		`{"filters":4,"kernel_size":[3,3],"groups":-2}`,
		`{"filters":4}`,
	} {
		if _, err := ctor("c", json.RawMessage(bad)); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
	// Dilation 1 and one group are the defaults, left out of the config.
	l3, err := ctor("c", json.RawMessage(`{"filters":4,"kernel_size":[3,3],"dilation_rate":[1,1],"groups":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(l3.Config()); strings.Contains(string(raw), "dilation") || strings.Contains(string(raw), "groups") {
		t.Errorf("default dilation and groups saved: %s", raw)
	}
	l.DilationRate, l.Groups, l.Strides = [2]int{2, 3}, 4, [2]int{1, 1}
	raw, _ = json.Marshal(l.Config())
	if want := `{"filters":32,"kernel_size":[3,3],"strides":[1,1],"padding":"same","use_bias":false,"dilation_rate":[2,3],"groups":4}`; string(raw) != want {
		t.Errorf("config %s, want %s", raw, want)
	}
	if c := convRoundTrip(t, l).(*Conv2D); c.DilationRate != [2]int{2, 3} || c.Groups != 4 {
		t.Errorf("round trip: %+v", c.Config())
	}
}

// TestConv2DInit checks Keras's Glorot uniform limit and the zero bias.
func TestConv2DInit(t *testing.T) {
	l := NewConv2D(64, 3, 3)
	if _, err := l.Build([]tensor.Shape{{8, 8, 32}}); err != nil {
		t.Fatal(err)
	}
	l.Bias.Value.Data[0] = 1
	l.InitWeights(rand.New(rand.NewPCG(1, 1)))
	limit := math.Sqrt(6.0 / float64(9*32+9*64))
	var maxAbs float64
	for _, v := range l.Kernel.Value.Data {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs > limit || maxAbs < 0.95*limit {
		t.Errorf("kernel max |w| %g, want just under %g", maxAbs, limit)
	}
	for _, v := range l.Bias.Value.Data {
		if v != 0 {
			t.Fatal("bias not zeroed")
		}
	}
}

// convBenchShapes are mnist-cnn's convolutions (3x3, valid, with bias).
var convBenchShapes = []struct {
	name    string
	h, w, c int
	f       int
}{
	{"conv1_28x28x1_32", 28, 28, 1, 32},
	{"conv2_26x26x32_64", 26, 26, 32, 64},
	{"conv3_12x12x64_64", 12, 12, 64, 64},
}

// BenchmarkConv2DForwardBackward times one training step (Forward and
// Backward) of the mnist-cnn convolutions at batch 128. Compare with
// BenchmarkConv2DSgemmOnly for the share of time spent outside kernels.Sgemm.
func BenchmarkConv2DForwardBackward(b *testing.B) {
	for _, bc := range convBenchShapes {
		b.Run(bc.name, func(b *testing.B) {
			l := NewConv2D(bc.f, 3, 3)
			out, err := l.Build([]tensor.Shape{{bc.h, bc.w, bc.c}})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			l.InitWeights(r)
			x := convRandTensor(r, 128, bc.h, bc.w, bc.c)
			dOut := convRandTensor(r, 128, out[0], out[1], out[2])
			c := &Context{Training: true}
			in := []*tensor.Tensor{x}
			l.Forward(c, in) // allocate the buffers
			l.Backward(c, dOut)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.Forward(c, in)
				l.Backward(c, dOut)
			}
		})
	}
}

// BenchmarkConv2DSgemmOnly runs only the kernels.Sgemm calls of one
// Conv2D training step (the same chunks, on buffers prepared once), for the
// mnist-cnn convolutions at batch 128: the rest of
// BenchmarkConv2DForwardBackward's time is packing (im2col, col2im) and bias.
func BenchmarkConv2DSgemmOnly(b *testing.B) {
	for _, bc := range convBenchShapes {
		b.Run(bc.name, func(b *testing.B) {
			l := NewConv2D(bc.f, 3, 3)
			if _, err := l.Build([]tensor.Shape{{bc.h, bc.w, bc.c}}); err != nil {
				b.Fatal(err)
			}
			g := l.geom.WithBatch(128)
			r := rand.New(rand.NewPCG(1, 1))
			F, K, P := l.Filters, g.ColCols(), g.OutPixels()
			ci := l.chunkImages()
			col := convRandTensor(r, ci*P*K).Data
			dCol := make([]float32, ci*P*K)
			w := convRandTensor(r, K*F).Data
			dW := make([]float32, K*F)
			out := make([]float32, g.N*P*F)
			dOut := convRandTensor(r, g.N*P*F).Data
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for n0 := 0; n0 < g.N; n0 += ci {
					rows := (min(n0+ci, g.N) - n0) * P
					kernels.Sgemm(false, false, rows, F, K, 1, col, K, w, F, 0, out[n0*P*F:], F)
				}
				for n0 := 0; n0 < g.N; n0 += ci {
					rows := (min(n0+ci, g.N) - n0) * P
					d := dOut[n0*P*F:]
					kernels.Sgemm(true, false, K, F, rows, 1, col, K, d, F, 1, dW, F)
					kernels.Sgemm(false, true, rows, K, F, 1, d, F, w, F, 0, dCol, K)
				}
			}
		})
	}
}

// TestConv2DBackwardParams checks that backwardParams, which the model
// executor runs for a Conv2D reading only model inputs, leaves the kernel
// and bias gradients of Backward bit for bit, for the im2col path (kept
// and packed again) and the pointwise one, and that a model plans it for
// its first convolution only.
func TestConv2DBackwardParams(t *testing.T) {
	defer func(v, k int) { convChunkFloats, convKeepFloats = v, k }(convChunkFloats, convKeepFloats)
	convChunkFloats = 2 * 4 * 4 * 27 // two images per chunk
	cases := []convCase{{6, 6, 3, 3, 3, 1, "valid"}, {7, 6, 3, 3, 3, 2, "same"}, {5, 4, 3, 1, 1, 1, "valid"}}
	for _, keep := range []int{1 << 30, 0} {
		convKeepFloats = keep
		for _, cc := range cases {
			var grads [2][]float32
			for i, full := range []bool{true, false} {
				r := rand.New(rand.NewPCG(21, 22))
				l := convNewRandom(t, r, cc, 5, true)
				x := convRandTensor(r, 5, cc.h, cc.w, cc.c)
				out := l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
				dOut := convRandTensor(r, out.Shape...)
				if full {
					l.Backward(&Context{Training: true}, dOut)
				} else if d := l.backwardParams(dOut); len(d) != 1 || d[0] != nil {
					t.Fatalf("%v: backwardParams returned %v, want one nil gradient", cc, d)
				}
				grads[i] = append(append([]float32(nil), l.Kernel.Grad.Data...), l.Bias.Grad.Data...)
			}
			if !convBits(grads[0], grads[1]) {
				t.Fatalf("%v keep=%d: backwardParams gradients differ from Backward's", cc, keep)
			}
		}
	}
	m, err := NewSequential(tensor.Shape{6, 6, 2}, NewConv2D(3, 3, 3), NewReLU(), NewConv2D(2, 1, 1), NewFlatten(), NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	for k, st := range m.steps {
		if (st.noInGrad != nil) != (k == 0) {
			t.Errorf("step %d (%s): noInGrad %v, want it on step 0 only", k, st.layer.Type(), st.noInGrad != nil)
		}
	}
}

// TestConv2DGatherSubChunks checks that computing dCol and col2im one
// image at a time inside a chunk of several (convGatherFloats) gives the
// input gradient of one pass per chunk, bit for bit, and that it still
// passes the gradient check.
func TestConv2DGatherSubChunks(t *testing.T) {
	defer func(v, k, s int) { convChunkFloats, convKeepFloats, convGatherFloats = v, k, s }(convChunkFloats, convKeepFloats, convGatherFloats)
	convChunkFloats = 3 * 4 * 4 * 27 // three images per chunk
	cc := convCase{6, 6, 3, 3, 3, 1, "valid"}
	var got [2][]float32
	for i, sub := range []int{1 << 30, 1} {
		convGatherFloats = sub
		r := rand.New(rand.NewPCG(23, 24))
		l := convNewRandom(t, r, cc, 5, true)
		if sub == 1 && l.gatherImages() != 1 {
			t.Fatalf("gatherImages() = %d, want 1", l.gatherImages())
		}
		x := convRandTensor(r, 7, 6, 6, 3)
		dOut := convRandTensor(r, 7, 4, 4, 5)
		l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
		dIn := l.Backward(&Context{Training: true}, dOut)[0]
		got[i] = append(append([]float32(nil), dIn.Data...), l.Kernel.Grad.Data...)
	}
	if !convBits(got[0], got[1]) {
		t.Fatal("sub-chunked dCol/col2im differs from one pass per chunk")
	}
	l := NewConv2D(4, 3, 3)
	l.Strides, l.Padding = [2]int{2, 1}, "same"
	gradCheck(t, l, 3, true, 1e-2, 2e-2, tensor.Shape{6, 5, 3})
}

// TestConv2DInferenceForwardKeepsNoCol checks that an inference Forward
// does not keep the whole batch's col matrix, and that a Backward after it
// (which packs the chunks again) gives the gradients of a Backward after a
// training Forward, bit for bit.
func TestConv2DInferenceForwardKeepsNoCol(t *testing.T) {
	defer func(v, k int) { convChunkFloats, convKeepFloats = v, k }(convChunkFloats, convKeepFloats)
	convChunkFloats = 2 * 4 * 4 * 27 // two images per chunk
	convKeepFloats = 1 << 30         // a training Forward keeps it
	cc := convCase{6, 6, 3, 3, 3, 1, "valid"}
	var got [2][]float32
	for i, training := range []bool{true, false} {
		r := rand.New(rand.NewPCG(25, 26))
		l := convNewRandom(t, r, cc, 5, true)
		x := convRandTensor(r, 5, 6, 6, 3)
		dOut := convRandTensor(r, 5, 4, 4, 5)
		out := l.Forward(&Context{Training: training}, []*tensor.Tensor{x})
		if l.colKept != training {
			t.Fatalf("training %v: colKept %v", training, l.colKept)
		}
		got[i] = append([]float32(nil), out.Data...)
		dIn := l.Backward(&Context{Training: training}, dOut)[0]
		got[i] = append(append(append(got[i], dIn.Data...), l.Kernel.Grad.Data...), l.Bias.Grad.Data...)
	}
	if !convBits(got[0], got[1]) {
		t.Fatal("inference Forward then Backward differs from training Forward then Backward")
	}
}

// TestConv2DGroupsSameBits checks that the per-group path (each thread
// takes whole groups of images through im2col, GEMM and col2im) gives the
// output, input gradient and weight gradients of the chunked path bit for
// bit, on 1, 2 and 3 threads, with the col matrix kept and packed again,
// in training and inference, for groups of one image and of several with
// a last partial group, on odd shapes (output pixels not a multiple of the
// GEMM tiles, "same" padding, stride 2).
func TestConv2DGroupsSameBits(t *testing.T) {
	defer func(v, k, g int) { convChunkFloats, convKeepFloats, convGroupFloats = v, k, g }(convChunkFloats, convKeepFloats, convGroupFloats)
	defer kernels.SetThreads(kernels.Threads())
	cases := []convCase{{9, 8, 3, 3, 3, 1, "valid"}, {11, 9, 5, 3, 3, 2, "same"}, {7, 7, 17, 2, 3, 1, "same"}}
	for _, cc := range cases {
		for _, keep := range []int{1 << 30, 0} {
			for _, training := range []bool{true, false} {
				convKeepFloats = keep
				var ref []float32
				for _, mode := range []struct {
					group   int // convGroupFloats
					threads int
				}{{0, 2}, {1, 1}, {1, 2}, {1, 3}, {3402, 2}, {3 * 1024, 3}} {
					convGroupFloats = mode.group
					kernels.SetThreads(mode.threads)
					convChunkFloats = 2 * 1024 // several chunks in the chunked path
					r := rand.New(rand.NewPCG(31, 32))
					l := convNewRandom(t, r, cc, 6, true)
					const n = 7
					x := convRandTensor(r, n, cc.h, cc.w, cc.c)
					c := &Context{Training: training}
					out := l.Forward(c, []*tensor.Tensor{x})
					if per := l.groupImages(n); (per > 0) != (mode.group > 0) {
						t.Fatalf("%v group floats %d: groupImages %d", cc, mode.group, per)
					}
					dOut := convRandTensor(r, out.Shape...)
					got := append([]float32(nil), out.Data...)
					dIn := l.Backward(c, dOut)[0]
					got = append(append(append(got, dIn.Data...), l.Kernel.Grad.Data...), l.Bias.Grad.Data...)
					if ref == nil {
						ref = got
						continue
					}
					if !convBits(ref, got) {
						t.Fatalf("%v keep=%d training=%v group floats %d, %d threads: results differ from the chunked path", cc, keep, training, mode.group, mode.threads)
					}
				}
			}
		}
	}
}
