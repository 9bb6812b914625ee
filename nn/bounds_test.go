package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// Regression tests of the resource bounds (docs/RELIABILITY.md, Resource
// bounds): every case is a model crafted here, as a hostile file would
// hold it, and loaded through FromSafetensors.

// withLimits sets the process's memory and work limits for one test and
// restores them after it (n < 1 leaves a limit as it is).
func withLimits(t *testing.T, memory, work int64) {
	t.Helper()
	oldM, oldW := bounds.MaxMemory(), bounds.MaxWork()
	t.Cleanup(func() { bounds.SetMaxMemory(oldM); bounds.SetMaxWork(oldW) })
	if memory > 0 {
		bounds.SetMaxMemory(memory)
	}
	if work > 0 {
		bounds.SetMaxWork(work)
	}
}

// edited returns m as a file whose architecture has each pair's first
// string replaced by its second (each must occur).
func edited(t *testing.T, m *Model, pairs ...string) *safetensors.File {
	t.Helper()
	f, err := ToSafetensors(m)
	if err != nil {
		t.Fatal(err)
	}
	arch := f.Metadata[ModelMetadataKey]
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(arch, pairs[i]) {
			t.Fatalf("architecture %s has no %s", arch, pairs[i])
		}
		arch = strings.Replace(arch, pairs[i], pairs[i+1], 1)
	}
	f.Metadata[ModelMetadataKey] = arch
	return f
}

// wantRefused loads f and fails unless it is refused with a one-line
// error containing want.
func wantRefused(t *testing.T, name string, f *safetensors.File, want string) {
	t.Helper()
	m, err := FromSafetensors(f)
	switch {
	case err == nil:
		t.Errorf("%s: loaded (plan: %d operations per sample, %d bytes at batch 1), want an error with %q",
			name, m.resources().Work, m.InferenceBytes(1), want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("%s: %v, want an error with %q", name, err, want)
	case strings.Contains(err.Error(), "\n"):
		t.Errorf("%s: multi-line error %q", name, err)
	}
}

// Class 1: shape arithmetic that would overflow is refused, not wrapped.
func TestLoadRefusesOverflowingShapes(t *testing.T) {
	pad := must(t)(NewSequential(tensor.Shape{4, 4, 1}, NewZeroPadding2D(1, 1, 1, 1), NewFlatten()))
	pool := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewMaxPooling2D(2, 2)))
	avg := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewAveragePooling2D(2, 2)))
	conv := must(t)(NewSequential(tensor.Shape{8, 8, 1}, NewConv2D(2, 3, 3)))
	reshape := must(t)(NewSequential(tensor.Shape{4, 4, 1}, NewReshape(16, -1)))
	big := "9223372036854775807"
	for _, c := range []struct {
		name string
		f    *safetensors.File
		want string
	}{
		// top + bottom + H wraps to a small height: Forward would slice
		// out of range.
		{"ZeroPadding2D near 2^63", edited(t, pad, `"padding":[1,1,1,1]`, `"padding":[`+big+`,`+big+`,1,1]`), "padding must be from 0 to"},
		{"ZeroPadding2D 2^30 each", edited(t, pad, `"padding":[1,1,1,1]`, `"padding":[1073741824,1073741824,1073741824,1073741824]`), "more than 268435456 values"},
		{"MaxPooling2D strides near 2^63", edited(t, pool, `"strides":[2,2],"padding":"valid"`, `"strides":[`+big+`,1],"padding":"same"`), "at most 1073741824"},
		{"MaxPooling2D pool 2^40", edited(t, pool, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[1099511627776,1099511627776],"strides":[1,1],"padding":"same"`), "at most 1073741824"},
		{"AveragePooling2D pool 2^40", edited(t, avg, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[1099511627776,1099511627776],"strides":[1099511627776,1099511627776],"padding":"same"`), "at most 1073741824"},
		{"Conv2D strides near 2^63", edited(t, conv, `"strides":[1,1]`, `"strides":[`+big+`,`+big+`]`), "at most 1073741824"},
		// The product of the target wrapped to 0: a division by zero.
		{"Reshape 2^32 x 2^32 x -1", edited(t, reshape, `"target_shape":[16,-1]`, `"target_shape":[4294967296,4294967296,-1]`), "more than 268435456 values"},
		{"input 2^33 x 2^33 x 1", edited(t, pad, `"shape":[4,4,1]`, `"shape":[8589934592,8589934592,1]`), "more than 268435456 values"},
	} {
		wantRefused(t, c.name, c.f, c.want)
	}
}

// Class 2: windows whose taps would take hours are refused at load.
func TestLoadRefusesUnboundedWork(t *testing.T) {
	withLimits(t, 0, bounds.DefaultWork)
	pool := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewMaxPooling2D(2, 2)))
	avg := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewAveragePooling2D(2, 2)))
	for name, f := range map[string]*safetensors.File{
		// 784 windows of 2^40 taps each, almost all in the padding.
		"MaxPooling2D 2^20 same":     edited(t, pool, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[1048576,1048576],"strides":[1,1],"padding":"same"`),
		"AveragePooling2D 2^20 same": edited(t, avg, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[1048576,1048576],"strides":[1,1],"padding":"same"`),
		// One window of 2^58 taps.
		"MaxPooling2D 2^29 same": edited(t, pool, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[536870912,536870912],"strides":[536870912,536870912],"padding":"same"`),
	} {
		wantRefused(t, name, f, "operations per sample")
	}
	// The same file loads when the limit is raised: the limit, not the
	// file, decides (the model is not run).
	withLimits(t, 0, 1<<62)
	if _, err := FromSafetensors(edited(t, pool, `"pool_size":[2,2],"strides":[2,2],"padding":"valid"`, `"pool_size":[1048576,1048576],"strides":[1,1],"padding":"same"`)); err != nil {
		t.Errorf("with GOQAT_MAX_WORK raised: %v", err)
	}
}

// Class 3: the memory of a model is planned at load, batch included, and
// im2col buffers count.
func TestLoadPlansMemory(t *testing.T) {
	withLimits(t, 4<<30, 0)
	// ZeroPadding2D to 16000x16000: 1 GB per sample (262 GB at batch 256).
	pad := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewZeroPadding2D(7986, 7986, 7986, 7986)))
	m, err := FromSafetensors(edited(t, pad))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.InferenceBytes(256); got < 256*16000*16000*4 {
		t.Errorf("ZeroPadding2D 16000x16000: %d bytes planned at batch 256, want at least 262 GB", got)
	}
	if b, err := m.InferenceBatch(256); err != nil || b != 4 {
		t.Errorf("ZeroPadding2D 16000x16000: InferenceBatch(256) = %d, %v; want 4 under 4 GiB", b, err)
	}
	withLimits(t, 512<<20, 0)
	wantRefused(t, "ZeroPadding2D 16000x16000 under 512 MiB", edited(t, pad), "over the limit of 512.0 MiB")

	// Conv2D with 262,144 1x1 filters: 822 MB per sample.
	wide := must(t)(NewSequential(tensor.Shape{28, 28, 1}, NewConv2D(262144, 1, 1)))
	if got := wide.InferenceBytes(256); got < 256*28*28*262144*4 {
		t.Errorf("262,144 filters: %d bytes planned at batch 256, want at least 210 GB", got)
	}
	wantRefused(t, "262,144 1x1 filters under 512 MiB", edited(t, wide), "over the limit")

	// A 1000x1000 'same' kernel on 28x28: its im2col buffer alone is 3.1 GB
	// at batch 1.
	withLimits(t, 2<<30, 0)
	kern := NewConv2D(1, 1000, 1000)
	kern.Padding = "same"
	huge := must(t)(NewSequential(tensor.Shape{28, 28, 1}, kern))
	if got := huge.InferenceBytes(1); got < 28*28*1000*1000*4 {
		t.Errorf("1000x1000 kernel: %d bytes planned at batch 1, want at least 3.1 GB (im2col)", got)
	}
	wantRefused(t, "1000x1000 same kernel under 2 GiB", edited(t, huge), "over the limit")
}

// Class 3: Predict and Evaluate run in a batch that fits: asked for the
// whole set at once, they allocate about the limit, not the set's size,
// and compute what batch 1 computes.
func TestInferenceShrinksBatch(t *testing.T) {
	// 512x512 padded images: 1 MiB per sample.
	m := must(t)(NewSequential(tensor.Shape{8, 8, 1}, NewZeroPadding2D(252, 252, 252, 252), NewGlobalAveragePooling2D(), NewDense(2)))
	x := tensor.New(48, 8, 8, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	want, err := m.Predict(context.Background(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	limit := m.InferenceBytes(1) + 6<<20
	withLimits(t, limit, 0)
	b, err := m.InferenceBatch(48)
	if err != nil || b >= 16 || b < 2 {
		t.Fatalf("InferenceBatch(48) = %d, %v under %d bytes; want a few samples", b, err, limit)
	}
	fresh := must(t)(NewSequential(tensor.Shape{8, 8, 1}, NewZeroPadding2D(252, 252, 252, 252), NewGlobalAveragePooling2D(), NewDense(2)))
	copy(fresh.Params()[0].Value.Data, m.Params()[0].Value.Data)
	copy(fresh.Params()[1].Value.Data, m.Params()[1].Value.Data)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := fresh.Predict(context.Background(), x, 48)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > limit {
		t.Errorf("Predict of 48 samples (1 MiB each) asked at batch 48 allocated %d bytes, over the limit %d: the batch did not shrink", alloc, limit)
	}
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("output %d: %v at a shrunk batch, %v at batch 1", i, got.Data[i], want.Data[i])
		}
	}
	y := tensor.New(48)
	if err := fresh.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&before)
	if _, _, err := fresh.Evaluate(context.Background(), x, y, EvaluateOptions{BatchSize: 48, Verbose: VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > limit {
		t.Errorf("Evaluate allocated %d bytes, over the limit %d", alloc, limit)
	}
	// Not even one sample fits: an error naming the limit.
	withLimits(t, m.InferenceBytes(1)-1, 0)
	if _, err := m.Predict(context.Background(), x, 4); err == nil || !strings.Contains(err.Error(), "GOQAT_MAX_MEMORY") {
		t.Errorf("Predict over the limit at batch 1: %v", err)
	}
}

// chainFile is the file of a Sequential model of n ReLU layers on an
// input of 4 values, written directly as its architecture JSON.
func chainFile(n int) *safetensors.File {
	var b strings.Builder
	b.WriteString(`{"format":"goqat.model","version":1,"kind":"sequential","name":"chain","inputs":[{"name":"input_1","shape":[4]}],"layers":[`)
	prev := "input_1"
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("re_lu_%d", i)
		fmt.Fprintf(&b, `{"name":%q,"type":"ReLU","config":{},"inbound":[%q]}`, name, prev)
		prev = name
	}
	fmt.Fprintf(&b, `],"outputs":[%q]}`, prev)
	return &safetensors.File{Metadata: map[string]string{ModelMetadataKey: b.String()}, Tensors: map[string]safetensors.Tensor{}}
}

// Class 4: loading is linear in the layers. 20,000 chained layers (a 2 MB
// file) used to take more than 30 s (each Call walked all its ancestors);
// the test compares 20,000 with 40,000 by what they allocate (bytes and
// objects), which a walk of the ancestors per layer makes quadratic, and
// which does not depend on the machine's load.
func TestLoadIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 60,000 layers")
	}
	cost := func(n int) (bytes, objects float64) {
		f := chainFile(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := FromSafetensors(f)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Layers()) != n {
			t.Fatalf("%d layers loaded, want %d", len(m.Layers()), n)
		}
		return float64(after.TotalAlloc - before.TotalAlloc), float64(after.Mallocs - before.Mallocs)
	}
	b1, o1 := cost(20000)
	b2, o2 := cost(40000)
	t.Logf("20,000 layers: %.0f bytes, %.0f objects; 40,000: %.0f bytes, %.0f objects", b1, o1, b2, o2)
	if b2/b1 > 2.5 || o2/o1 > 2.5 {
		t.Errorf("twice the layers allocate %.2fx the bytes and %.2fx the objects, want about 2x (linear)", b2/b1, o2/o1)
	}
}
