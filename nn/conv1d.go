package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Conv1D is Keras's Conv1D without a fused activation: in (N, T, C), out
// (N, OT, Filters), computed as im2col rows (N*OT, K*C) times the kernel
// (K, C, Filters) viewed as (K*C, Filters), one GEMM.
//
// Padding is "valid" (no padding: OT = (T - span)/stride + 1, with span =
// (K-1)*dilation + 1), "same" (OT = ceil(T/stride), the padding split as
// TensorFlow does, the extra cell at the end) or "causal" (span - 1 zeros
// before the sequence: output t sees inputs up to t*stride only; OT =
// ceil(T/stride)). Stride and dilation may both exceed 1.
type Conv1D struct {
	Base
	// Filters is the number of output channels.
	Filters int
	// KernelSize is the window length K.
	KernelSize int
	// Strides is the step between windows (1 by default).
	Strides int
	// Padding is "valid" (the default), "same" or "causal".
	Padding string
	// DilationRate spaces the window's taps (1 by default).
	DilationRate int
	// UseBias adds a bias per filter (true by default).
	UseBias bool
	// Kernel is (K, C, Filters), Bias (Filters), nil without UseBias; both
	// nil before Build.
	Kernel, Bias *Param

	t, c, ot, padL int
	x              *tensor.Tensor
	col            []float32 // (N*OT, K*C)
	dcol           []float32
	out, dx        *tensor.Tensor
	dxs            [1]*tensor.Tensor
	params         []*Param
}

// Conv1DConfig is Conv1D's saved configuration.
type Conv1DConfig struct {
	Filters      int    `json:"filters"`
	KernelSize   int    `json:"kernel_size"`
	Strides      int    `json:"strides"`
	Padding      string `json:"padding"`
	DilationRate int    `json:"dilation_rate"`
	UseBias      bool   `json:"use_bias"`
}

// NewConv1D returns a Conv1D of the given filters and window length,
// stride 1, "valid" padding, no dilation and a bias.
func NewConv1D(filters, kernelSize int) *Conv1D {
	return &Conv1D{Filters: filters, KernelSize: kernelSize, Strides: 1, Padding: "valid", DilationRate: 1, UseBias: true}
}

func init() {
	Register("Conv1D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := Conv1DConfig{Strides: 1, Padding: "valid", DilationRate: 1, UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Conv1D %q: config: %w", name, err)
		}
		l := &Conv1D{Filters: cfg.Filters, KernelSize: cfg.KernelSize, Strides: cfg.Strides, Padding: cfg.Padding,
			DilationRate: cfg.DilationRate, UseBias: cfg.UseBias}
		l.SetName(name)
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// check validates the hyper-parameters.
func (l *Conv1D) check() error {
	switch {
	case l.Filters <= 0 || l.KernelSize <= 0:
		return fmt.Errorf("Conv1D %q: filters and kernel_size must be positive, got %d and %d", l.Name(), l.Filters, l.KernelSize)
	case l.Strides <= 0 || l.DilationRate <= 0:
		return fmt.Errorf("Conv1D %q: strides and dilation_rate must be positive, got %d and %d", l.Name(), l.Strides, l.DilationRate)
	case l.Padding != "valid" && l.Padding != "same" && l.Padding != "causal":
		return fmt.Errorf("Conv1D %q: padding %q, want \"valid\", \"same\" or \"causal\"", l.Name(), l.Padding)
	}
	if span, ok := bounds.Mul(l.KernelSize-1, l.DilationRate); !ok || span > bounds.MaxValues {
		return fmt.Errorf("Conv1D %q: window of %d taps at dilation %d is too long", l.Name(), l.KernelSize, l.DilationRate)
	}
	return nil
}

// Type returns "Conv1D".
func (l *Conv1D) Type() string { return "Conv1D" }

// Config returns a Conv1DConfig.
func (l *Conv1D) Config() any {
	return Conv1DConfig{Filters: l.Filters, KernelSize: l.KernelSize, Strides: l.Strides, Padding: l.Padding,
		DilationRate: l.DilationRate, UseBias: l.UseBias}
}

// Params returns the kernel and, with UseBias, the bias.
func (l *Conv1D) Params() []*Param { return l.params }

// ParamCount implements ParamCounter.
func (l *Conv1D) ParamCount(in []tensor.Shape) int64 {
	return addCap(mulCap(int64(l.KernelSize), lastDim(in), int64(l.Filters)), int64(l.Filters))
}

// Cost implements Coster: the im2col rows, the products, the output.
func (l *Conv1D) Cost(_ []tensor.Shape, out tensor.Shape) Cost {
	rows := int64(l.ot)
	kc := bounds.SatMul(int64(l.KernelSize), int64(l.c))
	outV := values(out)
	return Cost{Work: bounds.SatAdd(bounds.SatMul(rows, kc, int64(l.Filters)), bounds.SatMul(rows, kc), outV),
		Bytes: bounds.SatAdd(bounds.SatMul(4, outV), bounds.SatMul(4, rows, kc))}
}

// conv1DLength returns the output length and the padding before the
// sequence, or ok false if the window does not fit.
func conv1DLength(t, k, stride, dilation int, padding string) (ot, padL int, ok bool) {
	span := (k-1)*dilation + 1
	switch padding {
	case "same":
		ot = (t + stride - 1) / stride
		padL = max((ot-1)*stride+span-t, 0) / 2
	case "causal":
		ot, padL = (t+stride-1)/stride, span-1
	default:
		if t < span {
			return 0, 0, false
		}
		ot = (t-span)/stride + 1
	}
	return ot, padL, true
}

// Build checks that the input is one (T, C) sequence that the window
// fits and creates the weights; the output is (OT, Filters).
func (l *Conv1D) Build(in []tensor.Shape) (tensor.Shape, error) {
	label := fmt.Sprintf("Conv1D %q", l.Name())
	t, c, err := sequenceInput(label, in)
	if err != nil {
		return nil, err
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	ot, padL, ok := conv1DLength(t, l.KernelSize, l.Strides, l.DilationRate, l.Padding)
	if !ok {
		return nil, fmt.Errorf("%s: a window of %d taps at dilation %d does not fit %d steps with \"valid\" padding", label, l.KernelSize, l.DilationRate, t)
	}
	kc, ok := bounds.Mul(l.KernelSize, c)
	if !ok || kc > bounds.MaxValues {
		return nil, fmt.Errorf("%s: window of %d x %d values is too large", label, l.KernelSize, c)
	}
	if v, ok := bounds.Mul(kc, l.Filters); !ok || v > bounds.MaxValues {
		return nil, fmt.Errorf("%s: kernel of %d x %d values is too large", label, kc, l.Filters)
	}
	if v, ok := bounds.Mul(ot, kc); !ok || v > bounds.MaxValues {
		return nil, fmt.Errorf("%s: im2col rows of %d x %d values are too large", label, ot, kc)
	}
	l.t, l.c, l.ot, l.padL = t, c, ot, padL
	l.Kernel = NewParam("kernel", true, l.KernelSize, c, l.Filters)
	l.params = []*Param{l.Kernel}
	l.Bias = nil
	if l.UseBias {
		l.Bias = NewParam("bias", true, l.Filters)
		l.params = append(l.params, l.Bias)
	}
	return tensor.Shape{ot, l.Filters}, nil
}

// InitWeights sets Keras's defaults: a Glorot uniform kernel (fan in K*C,
// fan out K*Filters) and a zero bias.
func (l *Conv1D) InitWeights(r *rand.Rand) {
	glorotUniform(r, l.Kernel.Value.Data, l.KernelSize*l.c, l.KernelSize*l.Filters)
	if l.Bias != nil {
		l.Bias.Value.Zero()
	}
}

// src returns the input step tap k of output step o reads, or -1 in the
// padding.
func (l *Conv1D) src(o, k int) int {
	ti := o*l.Strides - l.padL + k*l.DilationRate
	if ti < 0 || ti >= l.t {
		return -1
	}
	return ti
}

// Forward computes the convolution.
// x (N, T, C), kernel (K, C, F) -> (N, OT, F)
func (l *Conv1D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*l.t*l.c {
		panic(fmt.Sprintf("Conv1D %q: input shape %v, built for (N, %d, %d)", l.Name(), x.Shape, l.t, l.c))
	}
	l.x = x
	k, ch, ot, f := l.KernelSize, l.c, l.ot, l.Filters
	kc := k * ch
	l.col = grow(l.col, n*ot*kc)
	kernels.ParallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for o := 0; o < ot; o++ {
				row := l.col[(i*ot+o)*kc : (i*ot+o+1)*kc]
				for tap := 0; tap < k; tap++ {
					dst := row[tap*ch : (tap+1)*ch]
					if ti := l.src(o, tap); ti >= 0 {
						copy(dst, x.Data[(i*l.t+ti)*ch:(i*l.t+ti+1)*ch])
					} else {
						clear(dst)
					}
				}
			}
		}
	})
	out := tensor.Ensure(&l.out, n, ot, f)
	kernels.Sgemm(false, false, n*ot, f, kc, 1, l.col, kc, l.Kernel.Value.Data, f, 0, out.Data, f)
	if l.Bias != nil {
		b := l.Bias.Value.Data
		for r := 0; r < n*ot; r++ {
			row := out.Data[r*f : (r+1)*f]
			row = row[:len(b)]
			for j, v := range b {
				row[j] += v
			}
		}
	}
	return out
}

// Backward computes dKernel = col^T dOut, dBias = column sums of dOut (in
// row order) and dx by scattering dcol = dOut kernel^T back to the input
// steps (each sample by one thread, in tap order).
// dOut (N, OT, F) -> dx (N, T, C)
func (l *Conv1D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	k, ch, ot, f := l.KernelSize, l.c, l.ot, l.Filters
	kc := k * ch
	kernels.Sgemm(true, false, kc, f, n*ot, 1, l.col, kc, dOut.Data, f, 0, l.Kernel.Grad.Data, f)
	if l.Bias != nil {
		colSums(l.Bias.Grad.Data, dOut.Data, n*ot, f)
	}
	l.dcol = grow(l.dcol, n*ot*kc)
	kernels.Sgemm(false, true, n*ot, kc, f, 1, dOut.Data, f, l.Kernel.Value.Data, f, 0, l.dcol, kc)
	dx := tensor.Ensure(&l.dx, n, l.t, ch)
	kernels.ParallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			clear(dx.Data[i*l.t*ch : (i+1)*l.t*ch])
			for o := 0; o < ot; o++ {
				row := l.dcol[(i*ot+o)*kc : (i*ot+o+1)*kc]
				for tap := 0; tap < k; tap++ {
					ti := l.src(o, tap)
					if ti < 0 {
						continue
					}
					d := dx.Data[(i*l.t+ti)*ch : (i*l.t+ti+1)*ch]
					for j, v := range row[tap*ch : (tap+1)*ch] {
						d[j] += v
					}
				}
			}
		}
	})
	l.dxs[0] = dx
	return l.dxs[:]
}
