package lite

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// The rounding modes' kernels against scalar references: each op's
// accumulators summed by plain loops, rescaled by the qmath function of
// the mode (qmath's tests hold those to exact rational references).

var allRoundings = []Rounding{RoundingGoqat, RoundingTFLite, RoundingTFLiteReference}

// refRescale rescales acc by sIn*sW/sOut as the mode computes it, adds zp
// and clamps.
func refRescale(t *testing.T, mode Rounding, acc int32, sIn, sW, sOut float32, zp, lo, hi int32) int8 {
	t.Helper()
	real := float64(sIn) * float64(sW) / float64(sOut)
	var v int32
	switch mode {
	case RoundingGoqat:
		m, err := qmath.NewMultiplier(real)
		if err != nil {
			t.Fatal(err)
		}
		v = m.Apply(acc)
	case RoundingTFLite:
		v = qmath.RequantizeFP32(acc, sIn*sW/sOut)
	case RoundingTFLiteReference:
		m, err := qmath.NewTFLiteMultiplier(real)
		if err != nil {
			t.Fatal(err)
		}
		v = qmath.TFLiteMultiply(acc, m)
	}
	return int8(min(max(int64(v)+int64(zp), int64(lo)), int64(hi)))
}

// runModel runs m in the given mode on the int8 batch inputs (n samples)
// with the thread cap and returns output 0's codes.
func runModel(t *testing.T, m *Model, mode Rounding, threads, n int, ins ...[]int8) []int8 {
	t.Helper()
	c := *m
	c.Rounding = mode
	it, err := NewInterpreter(&c)
	if err != nil {
		t.Fatal(err)
	}
	it.SetThreads(threads)
	for i, d := range ins {
		if err := it.SetInputInt8(i, &tensor.Int8{Shape: append(tensor.Shape{n}, c.Tensors[c.Inputs[i]].Shape...), Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

// singleOp returns a full-integer model of op on the given inputs.
func singleOp(ins []Tensor, out Tensor, op Op) *Model {
	m := &Model{Name: "t", Tensors: append(append([]Tensor(nil), ins...), out)}
	op.Inputs = nil
	for i := range ins {
		m.Inputs = append(m.Inputs, i)
		op.Inputs = append(op.Inputs, i)
	}
	op.Output = len(ins)
	m.Ops = []Op{op}
	m.Outputs = []int{op.Output}
	return m
}

// codes returns n random int8 codes, with runs of the extremes.
func codes(r *rand.Rand, n int) []int8 {
	d := make([]int8, n)
	for i := range d {
		switch r.IntN(8) {
		case 0:
			d[i] = -128
		case 1:
			d[i] = 127
		default:
			d[i] = int8(r.IntN(256) - 128)
		}
	}
	return d
}

// convCase is a convolution geometry of the test.
type convCase struct {
	typ                OpType
	h, w, c, oc        int
	kh, kw, sh, sw     int
	pt, pb, pl, pr     int
	dh, dw, groups, dm int
	act                string
	perTensor, noBias  bool
	sIn, sOut          float32
	zpIn, zpOut        int32
}

func TestRoundingConvolutions(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	cases := []convCase{
		{typ: OpConv2D, h: 7, w: 6, c: 5, oc: 7, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1, sIn: 0.02, sOut: 0.05, zpIn: -3, zpOut: 10},
		{typ: OpConv2D, h: 9, w: 8, c: 4, oc: 6, kh: 3, kw: 2, sh: 2, sw: 1, pt: 1, pb: 0, pl: 0, pr: 1, act: "relu", sIn: 0.1, sOut: 0.3, zpIn: -128, zpOut: -128},
		{typ: OpConv2D, h: 8, w: 8, c: 6, oc: 4, kh: 3, kw: 3, sh: 1, sw: 1, pt: 2, pb: 2, pl: 2, pr: 2, dh: 2, dw: 2, groups: 2, act: "relu6", sIn: 0.05, sOut: 0.02, zpIn: 127, zpOut: -5},
		{typ: OpConv2D, h: 5, w: 5, c: 3, oc: 5, kh: 1, kw: 1, sh: 1, sw: 1, perTensor: true, noBias: true, sIn: 1, sOut: 1e-4, zpIn: 0, zpOut: 0}, // saturates
		{typ: OpDepthwiseConv2D, h: 7, w: 9, c: 4, oc: 4, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1, sIn: 0.03, sOut: 0.04, zpIn: 5, zpOut: -20},
		{typ: OpDepthwiseConv2D, h: 8, w: 8, c: 3, oc: 6, kh: 3, kw: 3, sh: 2, sw: 2, pt: 2, pb: 2, pl: 2, pr: 2, dh: 2, dw: 2, dm: 2, act: "relu", sIn: 4.0 / 255, sOut: 0.05, zpIn: -3, zpOut: -100},
		{typ: OpFullyConnected, c: 37, oc: 11, sIn: 0.07, sOut: 0.9, zpIn: -7, zpOut: 3},
		{typ: OpFullyConnected, c: 20, oc: 5, perTensor: true, act: "relu6", sIn: 0.5, sOut: 0.01, zpIn: 0, zpOut: -128},
	}
	for ci, cc := range cases {
		groups, dm := max(cc.groups, 1), max(cc.dm, 1)
		dh, dw := max(cc.dh, 1), max(cc.dw, 1)
		op := Op{Type: cc.typ, Name: "op", Activation: cc.act, WeightBits: 8}
		var inShape, outShape tensor.Shape
		var oh, ow int
		switch cc.typ {
		case OpFullyConnected:
			inShape, outShape = tensor.Shape{cc.c}, tensor.Shape{cc.oc}
			op.WeightShape = tensor.Shape{cc.c, cc.oc}
		default:
			oh = (cc.h+cc.pt+cc.pb-(cc.kh-1)*dh-1)/cc.sh + 1
			ow = (cc.w+cc.pl+cc.pr-(cc.kw-1)*dw-1)/cc.sw + 1
			inShape, outShape = tensor.Shape{cc.h, cc.w, cc.c}, tensor.Shape{oh, ow, cc.oc}
			op.Kernel, op.Strides, op.Pad = [2]int{cc.kh, cc.kw}, [2]int{cc.sh, cc.sw}, [4]int{cc.pt, cc.pb, cc.pl, cc.pr}
			op.Dilation, op.Groups, op.DepthMultiplier = [2]int{cc.dh, cc.dw}, cc.groups, cc.dm
			if cc.typ == OpConv2D {
				op.WeightShape = tensor.Shape{cc.kh, cc.kw, cc.c / groups, cc.oc}
			} else {
				op.WeightShape = tensor.Shape{cc.kh, cc.kw, cc.c * dm}
			}
		}
		op.Weights = make([]int8, op.WeightShape.Size())
		for i := range op.Weights {
			op.Weights[i] = int8(r.IntN(255) - 127)
		}
		nScales := cc.oc
		if cc.perTensor {
			nScales = 1
		}
		for range nScales {
			op.WeightScales = append(op.WeightScales, 0.001+0.02*r.Float32())
		}
		if !cc.noBias {
			op.Bias = make([]int32, cc.oc)
			for i := range op.Bias {
				op.Bias[i] = int32(r.IntN(40001) - 20000)
			}
		}
		tin := i8t("x", cc.sIn, cc.zpIn, inShape...)
		tout := i8t("y", cc.sOut, cc.zpOut, outShape...)
		m := singleOp([]Tensor{tin}, tout, op)
		if err := m.Validate(); err != nil {
			t.Fatalf("case %d: %v", ci, err)
		}
		const n = 3
		x := codes(r, n*inShape.Size())
		lo, hi := outRange(&tout, cc.act)
		// acc returns output (b, oy, ox, o)'s accumulator.
		acc := func(b, oy, ox, o int) int32 {
			s := int32(0)
			if op.Bias != nil {
				s = op.Bias[o]
			}
			if cc.typ == OpFullyConnected {
				for i := 0; i < cc.c; i++ {
					s += (int32(x[b*cc.c+i]) - cc.zpIn) * int32(op.Weights[i*cc.oc+o])
				}
				return s
			}
			for ky := 0; ky < cc.kh; ky++ {
				for kx := 0; kx < cc.kw; kx++ {
					iy, ix := oy*cc.sh-cc.pt+ky*dh, ox*cc.sw-cc.pl+kx*dw
					if iy < 0 || iy >= cc.h || ix < 0 || ix >= cc.w {
						continue
					}
					px := x[((b*cc.h+iy)*cc.w+ix)*cc.c:]
					if cc.typ == OpDepthwiseConv2D {
						s += (int32(px[o/dm]) - cc.zpIn) * int32(op.Weights[(ky*cc.kw+kx)*cc.oc+o])
						continue
					}
					cg, ocg := cc.c/groups, cc.oc/groups
					g := o / ocg
					for c := 0; c < cg; c++ {
						s += (int32(px[g*cg+c]) - cc.zpIn) * int32(op.Weights[((ky*cc.kw+kx)*cg+c)*cc.oc+o])
					}
				}
			}
			return s
		}
		for _, mode := range allRoundings {
			got := runModel(t, m, mode, 1, n, x)
			i := 0
			for b := 0; b < n; b++ {
				for p := 0; p < max(oh*ow, 1); p++ {
					for o := 0; o < cc.oc; o++ {
						sw := op.WeightScales[0]
						if !cc.perTensor {
							sw = op.WeightScales[o]
						}
						want := refRescale(t, mode, acc(b, p/max(ow, 1), p%max(ow, 1), o), cc.sIn, sw, cc.sOut, cc.zpOut, lo, hi)
						if got[i] != want {
							t.Fatalf("case %d (%s), rounding %s: output %d is %d, want %d", ci, cc.typ, mode, i, got[i], want)
						}
						i++
					}
				}
			}
			if par := runModel(t, m, mode, 3, n, x); !bytes.Equal(i8bytes(par), i8bytes(got)) {
				t.Fatalf("case %d, rounding %s: 3 threads differ from 1", ci, mode)
			}
		}
	}
}

func TestRoundingElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const n = 4
	shape := tensor.Shape{5, 6, 7}
	for _, sc := range []struct {
		sa, sb, so    float32
		za, zb, zo    int32
		act           string
		addReference  bool // XNNPACK declines the ratios: the reference Add
		broadcastMulB bool
	}{
		{sa: 0.05, sb: 0.03, so: 0.07, za: -3, zb: 10, zo: 0},
		{sa: 0.1, sb: 0.1, so: 0.1, za: -128, zb: 127, zo: -128, act: "relu"},
		{sa: 0.02, sb: 0.5, so: 0.04, za: 0, zb: -60, zo: 20, act: "relu6", broadcastMulB: true},
		{sa: 1, sb: 1e-4, so: 1e-3, za: 5, zb: 5, zo: 5, addReference: true},
	} {
		ta, tb := i8t("a", sc.sa, sc.za, shape...), i8t("b", sc.sb, sc.zb, shape...)
		to := i8t("y", sc.so, sc.zo, shape...)
		lo, hi := outRange(&to, sc.act)
		a, b := codes(r, n*shape.Size()), codes(r, n*shape.Size())
		add := singleOp([]Tensor{ta, tb}, to, Op{Type: OpAdd, Name: "add", Activation: sc.act})
		for _, mode := range []Rounding{RoundingTFLite, RoundingTFLiteReference} {
			got := runModel(t, add, mode, 2, n, a, b)
			p, err := qmath.NewFP32AddParams(sc.sa/sc.so, sc.sb/sc.so)
			if (err != nil) != sc.addReference {
				t.Fatalf("XNNPACK Add params for %v: %v", sc, err)
			}
			// The reference: inputs shifted left by 20, rescaled by
			// s_i/(2 max s), summed, rescaled by 2 max s/(2^20 s_out).
			twice := 2 * float64(max(sc.sa, sc.sb))
			ma, _ := qmath.NewTFLiteMultiplier(float64(sc.sa) / twice)
			mb, _ := qmath.NewTFLiteMultiplier(float64(sc.sb) / twice)
			mo, _ := qmath.NewTFLiteMultiplier(twice / (float64(1<<20) * float64(sc.so)))
			for i := range got {
				var v int32
				if mode == RoundingTFLite && !sc.addReference {
					v = p.Apply(int32(a[i]), int32(b[i]), sc.za, sc.zb)
				} else {
					s := qmath.TFLiteMultiply((int32(a[i])-sc.za)<<20, ma) + qmath.TFLiteMultiply((int32(b[i])-sc.zb)<<20, mb)
					v = qmath.TFLiteMultiply(s, mo)
				}
				want := int8(min(max(int64(v)+int64(sc.zo), int64(lo)), int64(hi)))
				if got[i] != want {
					t.Fatalf("Add %+v rounding %s: value %d is %d, want %d", sc, mode, i, got[i], want)
				}
			}
		}
		// Mul, b broadcast over the image when asked.
		tbm, bm, bSize := tb, b, shape.Size()
		if sc.broadcastMulB {
			tbm = i8t("b", sc.sb, sc.zb, 1, 1, 7)
			bm, bSize = codes(r, n*7), 7
		}
		mul := singleOp([]Tensor{ta, tbm}, to, Op{Type: OpMul, Name: "mul", Activation: sc.act})
		for _, mode := range allRoundings {
			got := runModel(t, mul, mode, 1, n, a, bm)
			for i := range got {
				s, j := i/shape.Size(), i%shape.Size()
				if sc.broadcastMulB {
					j %= 7
				}
				acc := (int32(a[i]) - sc.za) * (int32(bm[s*bSize+j]) - sc.zb)
				if want := refRescale(t, mode, acc, sc.sa, sc.sb, sc.so, sc.zo, lo, hi); got[i] != want {
					t.Fatalf("Mul %+v rounding %s: value %d is %d, want %d", sc, mode, i, got[i], want)
				}
			}
		}
		// Concatenation: a requantized, b copied (the output's
		// parameters), along the channels.
		tc := i8t("y", sc.sb, sc.zb, 5, 6, 14)
		cat := singleOp([]Tensor{ta, tb}, tc, Op{Type: OpConcatenation, Name: "concat"})
		for _, mode := range allRoundings {
			got := runModel(t, cat, mode, 1, n, a, b)
			for i := range got {
				px, c := i/14, i%14
				var want int8
				if c < 7 {
					want = refRescale(t, mode, int32(a[px*7+c])-sc.za, sc.sa, 1, sc.sb, sc.zb, -128, 127)
				} else {
					want = b[px*7+c-7]
				}
				if got[i] != want {
					t.Fatalf("Concatenation %+v rounding %s: value %d is %d, want %d", sc, mode, i, got[i], want)
				}
			}
		}
	}
}

func TestRoundingAverages(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const n = 3
	in := i8t("x", 0.1, -5, 6, 7, 4)
	x := codes(r, n*in.Shape.Size())
	// 2x2 windows, stride 1, SAME-style padding at the bottom and right:
	// counts of 4, 2 and 1, so ties are frequent.
	ap := singleOp([]Tensor{in}, i8t("y", 0.1, -5, 6, 7, 4), Op{Type: OpAveragePool, Name: "ap", Kernel: [2]int{2, 2}, Strides: [2]int{1, 1}, Pad: [4]int{0, 1, 0, 1}})
	gap := singleOp([]Tensor{in}, i8t("y", 0.1, -5, 4), Op{Type: OpGlobalAveragePool, Name: "gap"})
	for _, mode := range allRoundings {
		div := qmath.DivRoundAway
		if mode == RoundingGoqat {
			div = qmath.DivRoundEven
		}
		got := runModel(t, ap, mode, 1, n, x)
		ties := 0
		for i := range got {
			c, px := i%4, i/4
			b, y, xx := px/42, (px/7)%6, px%7
			s, cnt := int64(0), int64(0)
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					if y+dy < 6 && xx+dx < 7 {
						s += int64(x[((b*6+y+dy)*7+xx+dx)*4+c])
						cnt++
					}
				}
			}
			if 2*(s%cnt) == cnt || 2*(s%cnt) == -cnt {
				ties++
			}
			if want := int8(div(s, cnt)); got[i] != want {
				t.Fatalf("AveragePool2D rounding %s: value %d is %d, want %d", mode, i, got[i], want)
			}
		}
		if ties == 0 {
			t.Fatal("no ties among the averages: the test checks nothing of the rounding")
		}
		mean := *gap
		mean.Ops = []Op{gap.Ops[0]}
		mean.Ops[0].TFLiteMean = true
		for _, m := range []*Model{gap, &mean} {
			got = runModel(t, m, mode, 2, n, x)
			for i := range got {
				b, c := i/4, i%4
				s := int64(0)
				for p := 0; p < 42; p++ {
					s += int64(x[(b*42+p)*4+c])
				}
				want := int8(div(s, 42))
				if m.Ops[0].TFLiteMean && mode == RoundingTFLite {
					// XNNPACK's MEAN: relative to the zero point (-5), in
					// float32 with the scale s/(s*42), ties to even.
					sc := float32(0.1)
					want = int8(-5 + qmath.RequantizeFP32(int32(s+42*5), sc/float32(sc*42)))
				}
				if got[i] != want {
					t.Fatalf("GlobalAveragePool (TFLiteMean %v) rounding %s: value %d is %d, want %d", m.Ops[0].TFLiteMean, mode, i, got[i], want)
				}
			}
		}
	}
}

func TestRoundingQuantize(t *testing.T) {
	m := &Model{Name: "q", Tensors: []Tensor{{Name: "x", Shape: tensor.Shape{12}, DType: Float32}, i8t("q", 0.5, 3, 12)},
		Ops: []Op{{Type: OpQuantize, Name: "q", Inputs: []int{0}, Output: 1}}, Inputs: []int{0}, Outputs: []int{1}}
	x := []float32{0.25, -0.25, 0.75, -0.75, 1.25, 100, -100, float32(math.NaN()), 0, 0.2499, 62, -65.3}
	// x/0.5 = 0.5, -0.5, 1.5, -1.5, 2.5: ties away from zero in the
	// reference kernels, to even in goqat's and XNNPACK's.
	for mode, want := range map[Rounding][]int8{
		RoundingTFLiteReference: {4, 2, 5, 1, 6, 127, -128, 3, 3, 3, 127, -128},
		RoundingTFLite:          {3, 3, 5, 1, 5, 127, -128, 3, 3, 3, 127, -128},
		RoundingGoqat:           {3, 3, 5, 1, 5, 127, -128, 3, 3, 3, 127, -128},
	} {
		c := *m
		c.Rounding = mode
		it, err := NewInterpreter(&c)
		if err != nil {
			t.Fatal(err)
		}
		if err := it.SetInput(0, &tensor.Tensor{Shape: tensor.Shape{1, 12}, Data: x}); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		if got := it.OutputInt8(0).Data; !bytes.Equal(i8bytes(got), i8bytes(want)) {
			t.Errorf("rounding %s: Quantize %v = %v, want %v", mode, x, got, want)
		}
	}
}

// TestRoundingFile checks that the mode is saved and loaded, that a model
// without it (every file written before it existed) loads in goqat's
// rounding, and that unknown modes are refused.
func TestRoundingFile(t *testing.T) {
	dir := t.TempDir()
	base := singleOp([]Tensor{i8t("x", 0.1, 0, 4)}, i8t("y", 0.1, 0, 4), Op{Type: OpReshape, Name: "r"})
	for _, mode := range allRoundings {
		m := *base
		m.Rounding = mode
		path := filepath.Join(dir, "m"+mode.String()+".safetensors")
		if err := Save(path, &m); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if has := bytes.Contains(raw, []byte("rounding")); has != (mode != RoundingGoqat) {
			t.Errorf("rounding %s: file has a rounding field: %v", mode, has)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if back.Rounding != mode {
			t.Errorf("rounding %s saved, %q loaded", mode, back.Rounding)
		}
		if !strings.Contains(back.Summary(), "Rounding: "+string(mode)) != (mode == RoundingGoqat) {
			t.Errorf("rounding %s: summary %q", mode, strings.SplitN(back.Summary(), "\n", 3)[:2])
		}
	}
	marked := *base
	marked.Ops = []Op{base.Ops[0]}
	marked.Ops[0].TFLiteMean = true
	if err := marked.Validate(); err == nil || !strings.Contains(err.Error(), "tflite_mean") {
		t.Errorf("Validate of a Reshape marked TFLiteMean: %v", err)
	}
	bad := *base
	bad.Rounding = "bankers"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "rounding") {
		t.Errorf("Validate of rounding %q: %v", bad.Rounding, err)
	}
	for s, want := range map[string]Rounding{"": RoundingGoqat, "goqat": RoundingGoqat, "tflite": RoundingTFLite, "tflite-reference": RoundingTFLiteReference} {
		if got, err := ParseRounding(s); err != nil || got != want {
			t.Errorf("ParseRounding(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseRounding("TFLite"); err == nil {
		t.Error("ParseRounding(TFLite): no error")
	}
}
