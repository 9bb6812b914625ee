package nn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// geomCase is a convolution geometry with dilation and channel groups (for
// DepthwiseConv2D, groups is read as the depth multiplier).
type geomCase struct {
	h, w, c, kh, kw, s, dh, dw, groups int
	padding                            string
}

func (gc geomCase) String() string {
	return fmt.Sprintf("in%dx%dx%d_k%dx%d_s%d_d%dx%d_g%d_%s", gc.h, gc.w, gc.c, gc.kh, gc.kw, gc.s, gc.dh, gc.dw, gc.groups, gc.padding)
}

// geomCases: dilation alone (valid, same, asymmetric), groups alone (with
// stride 2 and a 1x1), both, and one group per channel.
var geomCases = []geomCase{
	{9, 8, 3, 3, 3, 1, 2, 2, 1, "valid"},
	{9, 8, 3, 3, 3, 1, 2, 2, 1, "same"},
	{8, 9, 2, 3, 2, 1, 3, 2, 1, "same"},
	{7, 6, 4, 3, 3, 2, 1, 1, 2, "same"},
	{7, 6, 6, 3, 3, 1, 1, 1, 3, "valid"},
	{5, 4, 6, 1, 1, 1, 1, 1, 2, "valid"},
	{9, 7, 4, 3, 3, 1, 2, 1, 2, "same"},
	{6, 6, 4, 2, 2, 1, 1, 1, 4, "same"},
}

// geomPads returns 'same' padding before the first element (and the output
// size) of a dilated window.
func geomPads(in, k, s, d int, padding string) (before, out int) {
	ek := (k-1)*d + 1
	if padding != "same" {
		return 0, (in-ek)/s + 1
	}
	out = (in + s - 1) / s
	return max((out-1)*s+ek-in, 0) / 2, out
}

// convNaiveGeom is the direct grouped, dilated convolution in float64: x
// (N,H,W,C), w (KH,KW,C/G,F), b (F) or nil; depthwise with multiplier M
// (= gc.groups) reads w (KH,KW,C,M) and writes F = C*M channels.
func convNaiveGeom(x *tensor.Tensor, w, b []float32, f int, gc geomCase, depthwise bool) []float64 {
	n, h, wd, c := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	pt, oh := geomPads(h, gc.kh, gc.s, gc.dh, gc.padding)
	pl, ow := geomPads(wd, gc.kw, gc.s, gc.dw, gc.padding)
	out := make([]float64, n*oh*ow*f)
	for i := 0; i < n; i++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				for o := 0; o < f; o++ {
					var s float64
					if b != nil {
						s = float64(b[o])
					}
					cg, c0 := c/gc.groups, o/(f/gc.groups)*(c/gc.groups)
					if depthwise {
						cg, c0 = 1, o/gc.groups
					}
					for a := 0; a < gc.kh; a++ {
						for e := 0; e < gc.kw; e++ {
							ih, iw := y*gc.s-pt+a*gc.dh, xx*gc.s-pl+e*gc.dw
							if ih < 0 || ih >= h || iw < 0 || iw >= wd {
								continue
							}
							for ch := 0; ch < cg; ch++ {
								v := float64(x.Data[((i*h+ih)*wd+iw)*c+c0+ch])
								if depthwise {
									s += v * float64(w[(a*gc.kw+e)*f+o])
								} else {
									s += v * float64(w[((a*gc.kw+e)*cg+ch)*f+o])
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

// newGeomConv builds a Conv2D of gc with f filters and normal random
// weights.
func newGeomConv(t *testing.T, r *rand.Rand, gc geomCase, f int) *Conv2D {
	t.Helper()
	l := NewConv2D(f, gc.kh, gc.kw)
	l.Strides, l.Padding = [2]int{gc.s, gc.s}, gc.padding
	l.DilationRate, l.Groups = [2]int{gc.dh, gc.dw}, gc.groups
	if _, err := l.Build([]tensor.Shape{{gc.h, gc.w, gc.c}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64())
		}
	}
	return l
}

// TestConv2DGeometryForward checks dilated and grouped convolutions
// against the direct loops, in one chunk and one image per chunk, and the
// kernel shape (KH, KW, C/groups, F).
func TestConv2DGeometryForward(t *testing.T) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	r := rand.New(rand.NewPCG(41, 41))
	for _, chunk := range []int{1 << 30, 1} {
		convChunkFloats = chunk
		for _, gc := range geomCases {
			f := 3 * gc.groups
			l := newGeomConv(t, r, gc, f)
			if want := (tensor.Shape{gc.kh, gc.kw, gc.c / gc.groups, f}); !l.Kernel.Value.Shape.Equal(want) {
				t.Fatalf("%v: kernel %v, want %v", gc, l.Kernel.Value.Shape, want)
			}
			x := convRandTensor(r, 3, gc.h, gc.w, gc.c)
			out := l.Forward(&Context{}, []*tensor.Tensor{x})
			convCheckClose(t, gc.String(), out.Data, convNaiveGeom(x, l.Kernel.Value.Data, l.Bias.Value.Data, f, gc, false), 1e-4)
		}
	}
}

// TestConv2DGeometryGradients checks Backward against finite differences
// for dilated and grouped convolutions, with and without bias, with the
// col matrix kept and packed again per image.
func TestConv2DGeometryGradients(t *testing.T) {
	defer func(v, k int) { convChunkFloats, convKeepFloats = v, k }(convChunkFloats, convKeepFloats)
	for _, gc := range geomCases {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v_bias%v", gc, bias), func(t *testing.T) {
				convChunkFloats, convKeepFloats = 1<<21, 1<<26
				if !bias { // one image per chunk, packed again in Backward
					convChunkFloats, convKeepFloats = 1, 0
				}
				l := NewConv2D(2*gc.groups, gc.kh, gc.kw)
				l.Strides, l.Padding, l.UseBias = [2]int{gc.s, gc.s}, gc.padding, bias
				l.DilationRate, l.Groups = [2]int{gc.dh, gc.dw}, gc.groups
				gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{gc.h, gc.w, gc.c})
			})
		}
	}
}

// TestConv2DGeometrySameBits checks that the per-group path (whole groups
// of images per thread) and the chunked path give the same bits for
// dilated and grouped convolutions, on 1 to 3 threads.
func TestConv2DGeometrySameBits(t *testing.T) {
	defer func(v, k, g int) { convChunkFloats, convKeepFloats, convGroupFloats = v, k, g }(convChunkFloats, convKeepFloats, convGroupFloats)
	defer kernels.SetThreads(kernels.Threads())
	cases := []geomCase{{9, 8, 4, 3, 3, 1, 2, 2, 2, "same"}, {11, 9, 6, 3, 3, 2, 1, 1, 3, "same"}}
	for _, gc := range cases {
		for _, keep := range []int{1 << 30, 0} {
			convKeepFloats = keep
			var ref []float32
			for _, mode := range []struct{ group, threads int }{{0, 2}, {1, 1}, {1, 3}, {4000, 2}} {
				convGroupFloats = mode.group
				kernels.SetThreads(mode.threads)
				convChunkFloats = 2 * 1024
				r := rand.New(rand.NewPCG(43, 44))
				l := newGeomConv(t, r, gc, 2*gc.groups)
				const n = 7
				x := convRandTensor(r, n, gc.h, gc.w, gc.c)
				c := &Context{Training: true}
				out := l.Forward(c, []*tensor.Tensor{x})
				if per := l.groupImages(n); (per > 0) != (mode.group > 0) {
					t.Fatalf("%v group floats %d: groupImages %d", gc, mode.group, per)
				}
				dOut := convRandTensor(r, out.Shape...)
				got := append([]float32(nil), out.Data...)
				dIn := l.Backward(c, dOut)[0]
				got = append(append(append(got, dIn.Data...), l.Kernel.Grad.Data...), l.Bias.Grad.Data...)
				if ref == nil {
					ref = got
				} else if !convBits(ref, got) {
					t.Fatalf("%v keep=%d group floats %d, %d threads: results differ", gc, keep, mode.group, mode.threads)
				}
			}
		}
	}
}

// TestConv2DGeometryErrors checks the Build errors of the new geometry.
func TestConv2DGeometryErrors(t *testing.T) {
	l := NewConv2D(4, 3, 3)
	l.SetName("c")
	l.Groups = 2
	if _, err := l.Build([]tensor.Shape{{5, 5, 3}}); err == nil || err.Error() != "c: input channels 3 are not divisible by groups 2" {
		t.Errorf("channels not divisible: %v", err)
	}
	l.Groups, l.DilationRate = 1, [2]int{3, 1}
	if _, err := l.Build([]tensor.Shape{{6, 5, 3}}); err == nil || !strings.Contains(err.Error(), "smaller than kernel 3x3 dilated 3x1 (7x3)") {
		t.Errorf("dilated window larger than the input: %v", err)
	}
	if out, err := l.Build([]tensor.Shape{{7, 5, 3}}); err != nil || !out.Equal(tensor.Shape{1, 3, 4}) {
		t.Errorf("dilated window that fits: %v, %v", out, err)
	}
	l.Strides = [2]int{1, 2}
	if _, err := l.Build([]tensor.Shape{{7, 5, 3}}); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("dilation with a stride: %v", err)
	}
}

// TestConv2DGeometryInitAndCount checks the Glorot limit of a grouped
// kernel (fan in KH*KW*C/groups, as Keras) and ParamCount against Build.
func TestConv2DGeometryInitAndCount(t *testing.T) {
	l := NewConv2D(64, 3, 3)
	l.Groups = 4
	in := []tensor.Shape{{8, 8, 32}}
	if _, err := l.Build(in); err != nil {
		t.Fatal(err)
	}
	l.InitWeights(rand.New(rand.NewPCG(1, 1)))
	limit := math.Sqrt(6.0 / float64(9*8+9*64))
	var maxAbs float64
	for _, v := range l.Kernel.Value.Data {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs > limit || maxAbs < 0.95*limit {
		t.Errorf("kernel max |w| %g, want just under %g", maxAbs, limit)
	}
	if n := ParamCountOf(l, in); n != 9*8*64+64 {
		t.Errorf("ParamCount %d, want %d", n, 9*8*64+64)
	}
	d := NewDepthwiseConv2D(3, 3)
	d.DepthMultiplier = 3
	if _, err := d.Build(in); err != nil {
		t.Fatal(err)
	}
	if n, want := ParamCountOf(d, in), int64(9*32*3+32*3); n != want {
		t.Errorf("depthwise ParamCount %d, want %d", n, want)
	}
}

// newGeomDepthwise builds a DepthwiseConv2D of gc (multiplier gc.groups)
// with normal random weights.
func newGeomDepthwise(t *testing.T, r *rand.Rand, gc geomCase) *DepthwiseConv2D {
	t.Helper()
	l := NewDepthwiseConv2D(gc.kh, gc.kw)
	l.Strides, l.Padding = [2]int{gc.s, gc.s}, gc.padding
	l.DilationRate, l.DepthMultiplier = [2]int{gc.dh, gc.dw}, gc.groups
	if _, err := l.Build([]tensor.Shape{{gc.h, gc.w, gc.c}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64())
		}
	}
	return l
}

// depthwiseGeomCases have depth multipliers (the groups field), dilation,
// and stride 2 with 'same' padding.
var depthwiseGeomCases = []geomCase{
	{7, 6, 3, 3, 3, 2, 1, 1, 2, "same"},
	{8, 8, 2, 3, 3, 2, 1, 1, 3, "same"},
	{9, 8, 3, 3, 3, 1, 2, 2, 2, "same"},
	{9, 7, 2, 3, 2, 1, 2, 3, 1, "valid"},
	{5, 6, 4, 2, 3, 1, 1, 1, 4, "valid"},
}

// TestDepthwiseConv2DGeometry checks depthwise convolutions with a depth
// multiplier (output channel c*M+m reads input channel c and kernel
// [.., c, m], as Keras) and dilation against the direct loops, and their
// gradients against finite differences.
func TestDepthwiseConv2DGeometry(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 45))
	for _, gc := range depthwiseGeomCases {
		l := newGeomDepthwise(t, r, gc)
		f := gc.c * gc.groups
		if want := (tensor.Shape{gc.kh, gc.kw, gc.c, gc.groups}); !l.DepthwiseKernel.Value.Shape.Equal(want) {
			t.Fatalf("%v: kernel %v, want %v", gc, l.DepthwiseKernel.Value.Shape, want)
		}
		for _, n := range []int{3, 1} {
			x := convRandTensor(r, n, gc.h, gc.w, gc.c)
			out := l.Forward(&Context{}, []*tensor.Tensor{x})
			convCheckClose(t, fmt.Sprint(gc, " batch ", n), out.Data, convNaiveGeom(x, l.DepthwiseKernel.Value.Data, l.Bias.Value.Data, f, gc, true), 1e-4)
		}
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v_bias%v", gc, bias), func(t *testing.T) {
				g := NewDepthwiseConv2D(gc.kh, gc.kw)
				g.Strides, g.Padding, g.UseBias = [2]int{gc.s, gc.s}, gc.padding, bias
				g.DilationRate, g.DepthMultiplier = [2]int{gc.dh, gc.dw}, gc.groups
				gradCheck(t, g, 2, true, 1e-2, 2e-2, tensor.Shape{gc.h, gc.w, gc.c})
			})
		}
	}
	// More images than the 16 weight-gradient chunks.
	l := NewDepthwiseConv2D(3, 3)
	l.Padding, l.Strides, l.DepthMultiplier = "same", [2]int{2, 2}, 2
	gradCheck(t, l, 19, true, 1e-2, 2e-2, tensor.Shape{5, 4, 2})
	l = NewDepthwiseConv2D(3, 3)
	l.Padding, l.DepthMultiplier = "same", 3
	convRunTwice(t, l, tensor.Shape{9, 10, 5}, 21)
}

// TestConvGeometryConfigAndSave saves and loads a model with a dilated
// grouped Conv2D and a dilated DepthwiseConv2D with a multiplier: the
// configuration, the summary and the outputs survive bit for bit.
func TestConvGeometryConfigAndSave(t *testing.T) {
	d := NewDepthwiseConv2D(3, 3)
	d.DepthMultiplier, d.DilationRate, d.Padding = 2, [2]int{2, 1}, "same"
	if l := convRoundTrip(t, d).(*DepthwiseConv2D); l.DepthMultiplier != 2 || l.DilationRate != [2]int{2, 1} {
		t.Errorf("depthwise round trip: %+v", l.Config())
	}
	c := NewConv2D(8, 3, 3)
	c.DilationRate, c.Groups, c.Padding = [2]int{2, 2}, 2, "same"
	c2 := NewConv2D(6, 1, 1)
	c2.Groups = 2
	m := must(t)(NewSequential(tensor.Shape{10, 9, 4}, c, d, c2, NewGlobalAveragePooling2D(), NewDense(3)))
	sum := m.Summary()
	for _, want := range []string{"(Conv2D) (None, 10, 9, 8) 152", "(DepthwiseConv2D) (None, 10, 9, 16) 160", "(Conv2D) (None, 10, 9, 6) 54"} {
		found := false
		for _, line := range strings.Split(sum, "\n") {
			found = found || strings.HasSuffix(strings.Join(strings.Fields(line), " "), want)
		}
		if !found {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	path := filepath.Join(t.TempDir(), "geom.safetensors")
	if err := Save(path, m); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	x := convRandTensor(rand.New(rand.NewPCG(46, 46)), 4, 10, 9, 4)
	want, err := m.Predict(context.Background(), x, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Predict(context.Background(), x, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !convBits(got.Data, want.Data) || l.Summary() != sum {
		t.Error("the loaded model differs from the saved one")
	}
}
