package nn

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// metadataSeeds are small valid models whose architectures are
// FuzzModelMetadata's seeds: every built-in layer kind, with windows,
// strides, 'same' and 'valid' padding, dilation, groups, zero padding and
// reshapes.
func metadataSeeds(t testing.TB) []*Model {
	t.Helper()
	conv := NewConv2D(4, 3, 3)
	conv.Strides, conv.Padding = [2]int{2, 2}, "same"
	avg := NewAveragePooling2D(2, 2)
	avg.Strides, avg.Padding = [2]int{1, 1}, "same"
	seq, err := NewSequential(tensor.Shape{8, 8, 2}, conv, NewBatchNormalization(), NewReLU(), NewMaxPooling2D(2, 2),
		NewZeroPadding2D(1, 2, 0, 1), avg, NewDepthwiseConv2D(3, 3), NewFlatten(), NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	x := Input(6, 6, 3)
	sep := Call(NewSeparableConv2D(4, 3, 3), x)
	pw := Call(NewConv2D(4, 3, 3), x)
	sum := Call(NewAdd(), sep, pw)
	cat := Call(NewConcatenate(), sum, Call(NewReLU6(), sep))
	gate := Call(NewGlobalAveragePooling2D(), cat)
	scaled := Call(NewMultiply(), cat, Call(NewReshape(1, 1, 8), gate))
	fn, err := NewModel([]*Node{x}, []*Node{Call(NewGlobalMaxPooling2D(), scaled), Call(NewReshape(-1, 2), Call(NewFlatten(), sum))})
	if err != nil {
		t.Fatal(err)
	}
	dil := NewConv2D(4, 3, 3)
	dil.DilationRate, dil.Groups, dil.Padding = [2]int{2, 2}, 2, "same"
	grouped, err := NewSequential(tensor.Shape{9, 7, 2}, dil, NewDropout(0.5), NewMaxPooling2D(3, 2))
	if err != nil {
		t.Fatal(err)
	}
	// A nested model (its architecture inside a layer config) after a
	// Dense, then a head.
	inner, err := NewSequential(tensor.Shape{5, 5, 2}, NewConv2D(3, 3, 3), NewBatchNormalization(), NewGlobalAveragePooling2D())
	if err != nil {
		t.Fatal(err)
	}
	nested, err := NewSequential(tensor.Shape{5, 5, 2}, NewConv2D(2, 1, 1), inner.AsLayer(), NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	return []*Model{seq, fn, grouped, nested}
}

// jsonNumber matches a number of the compact architecture JSON (after
// '[', ',' or ':'): the values FuzzModelMetadata sets.
var jsonNumber = regexp.MustCompile(`([\[,:])(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)`)

// setNumber replaces the k-th number of arch (modulo their count) by v.
func setNumber(arch string, k int, v int64) string {
	locs := jsonNumber.FindAllStringSubmatchIndex(arch, -1)
	if len(locs) == 0 {
		return arch
	}
	l := locs[k%len(locs)]
	return arch[:l[4]] + strconv.FormatInt(v, 10) + arch[l[5]:]
}

// fittedFile returns a file holding arch as its architecture and, when
// the architecture builds (each layer asking at most 2^16 parameters),
// weights of the shapes its layers build, so that a mutation of a window,
// a pad or a shape reaches the plan and the run rather than stopping at
// the weights check; otherwise the architecture alone.
func fittedFile(arch string) *safetensors.File {
	bare := &safetensors.File{Metadata: map[string]string{ModelMetadataKey: arch}, Tensors: map[string]safetensors.Tensor{}}
	var a archModel
	if json.Unmarshal([]byte(arch), &a) != nil {
		return bare
	}
	nodes := map[string]*Node{}
	var inputs, outputs []*Node
	for _, in := range a.Inputs {
		x := InputNamed(in.Name, in.Shape...)
		if x.err != nil || nodes[in.Name] != nil {
			return bare
		}
		nodes[in.Name] = x
		inputs = append(inputs, x)
	}
	for _, al := range a.Layers {
		l, err := NewLayer(al.Type, al.Name, al.Config)
		if err != nil || nodes[al.Name] != nil {
			return bare
		}
		var in []*Node
		var shapes []tensor.Shape
		for _, name := range al.Inbound {
			x := nodes[name]
			if x == nil || x.err != nil {
				return bare
			}
			in = append(in, x)
			shapes = append(shapes, x.shape)
		}
		if n := ParamCountOf(l, shapes); n > 1<<16 {
			return bare
		}
		if ml, ok := l.(*ModelLayer); ok {
			// A nested model's count is known only once it is built: the
			// same bound as a budget for its build (Load gives it the
			// file's).
			budget := int64(1 << 16)
			ml.budget = &budget
		}
		nodes[al.Name] = Call(l, in...)
	}
	for _, name := range a.Outputs {
		if nodes[name] == nil {
			return bare
		}
		outputs = append(outputs, nodes[name])
	}
	m, err := NewModel(inputs, outputs)
	if err != nil {
		return bare
	}
	f, err := ToSafetensors(m)
	if err != nil {
		return bare
	}
	f.Metadata[ModelMetadataKey] = arch
	return f
}

// FuzzModelMetadata mutates the architecture of small valid models: the
// fuzzer picks a seed model and sets up to three numbers of its
// architecture JSON (any number: layer configs, input shapes, windows,
// strides, dilations, pads, units, axes) to any int64, so that every input
// is well-formed JSON that reaches the builders. The weights are made to
// fit, and the file is loaded with limits proportional to its size and
// its input's (docs/RELIABILITY.md, Resource bounds): nothing panics,
// every error is one line, and a model that loads runs one inference
// (batch 1) whose allocations stay within its plan, itself within the
// limits. (FuzzModelFromFile in package quantize mutates the bytes of
// whole files.)
func FuzzModelMetadata(f *testing.F) {
	var seeds []string
	for _, m := range metadataSeeds(f) {
		st, err := ToSafetensors(m)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, st.Metadata[ModelMetadataKey])
		f.Add(uint8(len(seeds)-1), uint16(0), int64(0), uint16(0), int64(0), uint16(0), int64(0))
	}
	oldM, oldW := bounds.MaxMemory(), bounds.MaxWork()
	f.Cleanup(func() { bounds.SetMaxMemory(oldM); bounds.SetMaxWork(oldW) })
	f.Fuzz(func(t *testing.T, seed uint8, k1 uint16, v1 int64, k2 uint16, v2 int64, k3 uint16, v3 int64) {
		arch := seeds[int(seed)%len(seeds)]
		for _, e := range [...]struct {
			k uint16
			v int64
		}{{k1, v1}, {k2, v2}, {k3, v3}} {
			if e.k > 0 { // 0: no edit
				arch = setNumber(arch, int(e.k-1), e.v)
			}
		}
		st := fittedFile(arch)
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, st); err != nil {
			t.Fatal(err)
		}
		// The limits: proportional to the file's and the input's sizes
		// (the input as the architecture states it, bounded first).
		inValues := int64(0)
		var a archModel
		_ = json.Unmarshal([]byte(arch), &a) // on an error, FromSafetensors refuses it below
		for _, in := range a.Inputs {
			if n, err := bounds.Values(in.Shape); err == nil {
				inValues += int64(n)
			}
		}
		size := int64(buf.Len()) + 4*inValues
		bounds.SetMaxMemory(16<<20 + 1024*size)
		bounds.SetMaxWork(1<<20 + 4096*size)
		m, err := FromSafetensors(st)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		plan := m.resources()
		if plan.Work > bounds.MaxWork() || plan.Bytes(1) > bounds.MaxMemory() {
			t.Fatalf("loaded a model planned over the limits: %d operations, %d bytes", plan.Work, plan.Bytes(1))
		}
		var xs []*tensor.Tensor
		r := rand.New(rand.NewPCG(uint64(k1), uint64(v1)))
		for _, s := range m.Inputs() {
			x := tensor.New(append(tensor.Shape{1}, s...)...)
			for i := range x.Data {
				x.Data[i] = r.Float32()*4 - 2
			}
			xs = append(xs, x)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = m.Forward(nil, xs...)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("a model that loads must run: %v", err)
		}
		if alloc, planned := int64(after.TotalAlloc-before.TotalAlloc), plan.Bytes(1); alloc > planned+64<<10 {
			t.Errorf("one inference allocated %d bytes, its plan %d (model %s)", alloc, planned, arch)
		}
	})
}
