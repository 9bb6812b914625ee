package nn

import (
	"math"

	"github.com/goqat/goqat/tensor"
)

// ParamCounter is implemented by layers that can tell, before Build, how
// many parameter values Build would allocate for the given input shapes
// (-1 when they cannot tell). Loaders use it to refuse a file whose
// architecture asks for more parameters than the file holds before the
// memory is allocated: a hostile "units": 2000000000 is an error, not an
// out-of-memory crash.
type ParamCounter interface {
	ParamCount(in []tensor.Shape) int64
}

// ParamCountOf returns l's ParamCount for the input shapes, or -1 if l does
// not implement ParamCounter.
func ParamCountOf(l Layer, in []tensor.Shape) int64 {
	if pc, ok := l.(ParamCounter); ok {
		return pc.ParamCount(in)
	}
	return -1
}

// mulCap multiplies non-negative factors, saturating at math.MaxInt64 (a
// negative factor gives -1: unknown).
func mulCap(xs ...int64) int64 {
	p := int64(1)
	for _, x := range xs {
		if x < 0 {
			return -1
		}
		if x != 0 && p > math.MaxInt64/x {
			return math.MaxInt64
		}
		p *= x
	}
	return p
}

// addCap adds non-negative counts, saturating (a negative one gives -1).
func addCap(xs ...int64) int64 {
	s := int64(0)
	for _, x := range xs {
		if x < 0 {
			return -1
		}
		if s > math.MaxInt64-x {
			return math.MaxInt64
		}
		s += x
	}
	return s
}

// lastDim returns the last dimension of the first input shape (-1 if none).
func lastDim(in []tensor.Shape) int64 {
	if len(in) == 0 || len(in[0]) == 0 {
		return -1
	}
	return int64(in[0][len(in[0])-1])
}

// ParamCount implements ParamCounter: kernel (in, units) and bias.
func (d *Dense) ParamCount(in []tensor.Shape) int64 {
	return addCap(mulCap(lastDim(in), int64(d.Units)), int64(d.Units))
}

// ParamCount implements ParamCounter: kernel (KH, KW, C/groups, filters)
// and bias.
func (c *Conv2D) ParamCount(in []tensor.Shape) int64 {
	cg := lastDim(in)
	if cg > 0 {
		cg /= int64(c.GroupCount())
	}
	return addCap(mulCap(int64(c.KernelSize[0]), int64(c.KernelSize[1]), cg, int64(c.Filters)), int64(c.Filters))
}

// ParamCount implements ParamCounter: kernel (KH, KW, C*multiplier) and bias.
func (d *DepthwiseConv2D) ParamCount(in []tensor.Shape) int64 {
	cm := mulCap(lastDim(in), int64(d.DepthMultiplier))
	return addCap(mulCap(int64(d.KernelSize[0]), int64(d.KernelSize[1]), cm), cm)
}

// ParamCount implements ParamCounter: depthwise kernel, pointwise kernel
// (C, filters) and bias.
func (s *SeparableConv2D) ParamCount(in []tensor.Shape) int64 {
	C := lastDim(in)
	return addCap(mulCap(int64(s.KernelSize[0]), int64(s.KernelSize[1]), C), mulCap(C, int64(s.Filters)), int64(s.Filters))
}

// ParamCount implements ParamCounter: gamma, beta and the moving statistics.
func (b *BatchNormalization) ParamCount(in []tensor.Shape) int64 {
	return mulCap(4, lastDim(in))
}
