package nn_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// ckData returns n random 8x8x1 images with labels i%3 (shared by the
// checkpoint tests) and a small validation set.
func ckData(n int) (x, y, vx, vy *tensor.Tensor) {
	r := rand.New(rand.NewPCG(11, 12))
	x, y = tensor.New(n, 8, 8, 1), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(i % 3)
		x.Data[i*64+(i%3)*7] += 3 // learnable
	}
	vx, vy = x.Batch(0, 20), y.Batch(0, 20)
	return x, y, vx, vy
}

// ckModel is Conv2D-BN-ReLU-Flatten-Dropout-Dense, with the same initial
// weights at every call, compiled with Adam on a cosine schedule.
func ckModel(t *testing.T, totalSteps int) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(), nn.NewDropout(0.3), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	compileAdam(t, m, totalSteps)
	return m
}

func compileAdam(t *testing.T, m *nn.Model, totalSteps int) {
	t.Helper()
	opt := optim.NewAdam(1e-2)
	opt.LR = optim.Cosine{Base: 1e-2, Steps: totalSteps, Min: 1e-4, Warmup: 2}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: opt, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
}

// paramBits returns the bits of every parameter, trainable or not.
func paramBits(m *nn.Model) []uint32 {
	var b []uint32
	for _, p := range m.Params() {
		for _, v := range p.Value.Data {
			b = append(b, math.Float32bits(v))
		}
	}
	return b
}

// firstDiff returns the index of the first differing element, -1 if none.
func firstDiff(a, b []uint32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// sameHistory compares everything but the timings, bit for bit.
func sameHistory(a, b *nn.History) bool {
	eq := func(x, y []float64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	}
	return len(a.Epoch) == len(b.Epoch) && eq(a.Loss, b.Loss) && eq(a.Accuracy, b.Accuracy) &&
		eq(a.ValLoss, b.ValLoss) && eq(a.ValAccuracy, b.ValAccuracy) && len(a.EpochSeconds) == len(b.EpochSeconds)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResumeBitIdentical trains uninterrupted while keeping a copy of every
// checkpoint (what a SIGKILL right after it would leave), then resumes a
// fresh model from each copy and from a cancelled run, and checks that
// every resumed run ends with the same weights (non-trainable state
// included) and history, bit for bit.
func TestResumeBitIdentical(t *testing.T) {
	x, y, vx, vy := ckData(90)
	const bs, epochs = 16, 3
	steps := epochs * 6
	dir := t.TempDir()
	var saved []string
	ref := ckModel(t, steps)
	o := nn.FitOptions{BatchSize: bs, Epochs: epochs, Seed: 7, Verbose: nn.VerboseSilent, ValidationX: vx, ValidationY: vy}
	o.Checkpoint = &nn.CheckpointOptions{Dir: filepath.Join(dir, "ref"), EveryNSteps: 4, OnSave: func(path string, epoch, batch int) {
		c := filepath.Join(dir, "copy-"+string(rune('a'+len(saved)))+".safetensors")
		copyFile(t, path, c)
		saved = append(saved, c)
	}}
	hRef, err := ref.Fit(context.Background(), x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	want := paramBits(ref)

	// Checkpointing must not change the run.
	plain := ckModel(t, steps)
	po := o
	po.Checkpoint = nil
	hPlain, err := plain.Fit(context.Background(), x, y, po)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(paramBits(plain), want); i >= 0 || !sameHistory(hPlain, hRef) {
		t.Fatalf("checkpointing changed the run (first differing value %d)", i)
	}
	// Every 4 steps (4, 8, 16 mid-epoch; 12 is an epoch end) and 3 epoch
	// ends.
	if len(saved) != 6 {
		t.Fatalf("%d checkpoints saved, want 6", len(saved))
	}

	resume := func(name, path string) {
		m := ckModel(t, steps)
		ro := o
		ro.Checkpoint = &nn.CheckpointOptions{Dir: filepath.Join(dir, "resume-"+name)}
		ro.Resume = path
		h, err := m.Fit(context.Background(), x, y, ro)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if i := firstDiff(paramBits(m), want); i >= 0 {
			t.Errorf("%s: resumed weights differ from the uninterrupted run at value %d", name, i)
		}
		if !sameHistory(h, hRef) {
			t.Errorf("%s: history %v, want %v", name, h.Loss, hRef.Loss)
		}
		if m.Step() != ref.Step() {
			t.Errorf("%s: step %d, want %d", name, m.Step(), ref.Step())
		}
	}
	for i, p := range saved {
		info, err := nn.ReadCheckpointInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("checkpoint %d: epoch %d batch %d step %d", i, info.Epoch, info.Batch, info.FitStep)
		resume(filepath.Base(p), p)
	}

	// Cancellation mid-epoch saves a checkpoint at the step it stops.
	for _, stopAfter := range []int{1, 9} {
		m := ckModel(t, steps)
		ctx, cancel := context.WithCancel(context.Background())
		co := o
		cdir := filepath.Join(dir, "cancel")
		co.Checkpoint = &nn.CheckpointOptions{Dir: cdir}
		n := 0
		co.OnBatchEnd = func(int, float64) {
			if n++; n == stopAfter {
				cancel()
			}
		}
		_, err := m.Fit(ctx, x, y, co)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Fit: %v", err)
		}
		info, err := nn.ReadCheckpointInfo(nn.CheckpointPath(cdir))
		if err != nil {
			t.Fatal(err)
		}
		if info.FitStep != stopAfter {
			t.Errorf("cancelled after %d steps, checkpoint at step %d", stopAfter, info.FitStep)
		}
		resume("cancel", nn.CheckpointPath(cdir))
	}
}

// TestResumeRejects checks that a checkpoint that does not fit the run is
// refused with a clear error and leaves the model untouched.
func TestResumeRejects(t *testing.T) {
	x, y, _, _ := ckData(64)
	dir := t.TempDir()
	m := ckModel(t, 8)
	o := nn.FitOptions{BatchSize: 16, Epochs: 1, Seed: 2, Verbose: nn.VerboseSilent, Checkpoint: &nn.CheckpointOptions{Dir: dir}}
	if _, err := m.Fit(context.Background(), x, y, o); err != nil {
		t.Fatal(err)
	}
	path := nn.CheckpointPath(dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	compileAdam(t, other, 8)
	sgd := ckModel(t, 8)
	if err := sgd.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewSGD(0.1, 0.9), Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    *nn.Model
		mod  func(*nn.FitOptions)
		want string
	}{
		{"seed", ckModel(t, 8), func(o *nn.FitOptions) { o.Seed = 3 }, "seed 2"},
		{"batch", ckModel(t, 8), func(o *nn.FitOptions) { o.BatchSize = 8 }, "batch size 16"},
		{"shuffle", ckModel(t, 8), func(o *nn.FitOptions) { o.NoShuffle = true }, "shuffling"},
		{"validation", ckModel(t, 8), func(o *nn.FitOptions) { o.ValidationX, o.ValidationY = x, y }, "validation data"},
		{"model", other, func(*nn.FitOptions) {}, "parameters"},
		{"optimizer", sgd, func(*nn.FitOptions) {}, "*optim.Adam"},
		{"truncated", ckModel(t, 8), func(o *nn.FitOptions) { o.Resume = bad("trunc", good[:len(good)/2]) }, "trunc"},
		{"empty", ckModel(t, 8), func(o *nn.FitOptions) { o.Resume = bad("empty", nil) }, "empty"},
		{"missing", ckModel(t, 8), func(o *nn.FitOptions) { o.Resume = filepath.Join(dir, "nope") }, "nope"},
		// Last: it changes the data of the cases after it.
		{"samples", ckModel(t, 8), func(*nn.FitOptions) { x, y = x.Batch(0, 48), y.Batch(0, 48) }, "64 samples"},
	}
	for _, c := range cases {
		ro := nn.FitOptions{BatchSize: 16, Epochs: 2, Seed: 2, Verbose: nn.VerboseSilent, Resume: path}
		c.mod(&ro)
		before := paramBits(c.m)
		_, err := c.m.Fit(context.Background(), x, y, ro)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one mentioning %q", c.name, err, c.want)
		}
		if firstDiff(paramBits(c.m), before) >= 0 || c.m.Step() != 0 {
			t.Errorf("%s: a refused resume changed the model", c.name)
		}
	}
}

// TestCheckpointWriteInterrupted checks that while a new checkpoint is
// being written the previous one stays complete and loadable, and that a
// temporary file left by a crash is cleaned up.
func TestCheckpointWriteInterrupted(t *testing.T) {
	x, y, _, _ := ckData(64)
	dir := t.TempDir()
	stale := filepath.Join(dir, "."+nn.CheckpointFile+".tmp-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := nn.CheckpointPath(dir)
	writes := 0
	o := nn.FitOptions{BatchSize: 16, Epochs: 2, Seed: 2, Verbose: nn.VerboseSilent}
	o.Checkpoint = &nn.CheckpointOptions{Dir: dir, EveryNSteps: 1, BeforeReplace: func(tmp string) {
		writes++
		if _, err := os.Stat(stale); err == nil {
			t.Errorf("stale temporary file was not removed")
		}
		if !strings.HasPrefix(filepath.Base(tmp), "."+nn.CheckpointFile+".tmp-") || filepath.Dir(tmp) != dir {
			t.Errorf("temporary file %s is not beside the checkpoint", tmp)
		}
		info, err := nn.ReadCheckpointInfo(path)
		if writes == 1 {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("before the first checkpoint: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("write %d: the previous checkpoint does not load: %v", writes, err)
		}
		if info.FitStep != writes-1 {
			t.Errorf("write %d: the checkpoint on disk is at step %d, want %d", writes, info.FitStep, writes-1)
		}
	}}
	m := ckModel(t, 8)
	if _, err := m.Fit(context.Background(), x, y, o); err != nil {
		t.Fatal(err)
	}
	if writes != 8 {
		t.Errorf("%d checkpoint writes, want 8", writes)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestCheckpointNeedsStatefulOptimizer checks the error for an optimizer
// whose state cannot be saved.
func TestCheckpointNeedsStatefulOptimizer(t *testing.T) {
	x, y, _, _ := ckData(32)
	m := ckModel(t, 8)
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: stateless{}}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Fit(context.Background(), x, y, nn.FitOptions{Verbose: nn.VerboseSilent, Checkpoint: &nn.CheckpointOptions{Dir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "StatefulOptimizer") {
		t.Errorf("err = %v", err)
	}
	_, err = m.Fit(context.Background(), x, y, nn.FitOptions{Verbose: nn.VerboseSilent, Checkpoint: &nn.CheckpointOptions{}})
	if err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("empty Dir: err = %v", err)
	}
}

// stateless is an optimizer without State/SetState.
type stateless struct{}

func (stateless) Step([]*nn.Param) {}

// ExampleCheckpointOptions trains with checkpoints, then continues the run
// from the checkpoint for one more epoch.
func ExampleCheckpointOptions() {
	x, y, _, _ := ckData(64)
	dir, err := os.MkdirTemp("", "ckpt")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	build := func() *nn.Model {
		m, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(3))
		if err != nil {
			panic(err)
		}
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2)}); err != nil {
			panic(err)
		}
		return m
	}
	o := nn.FitOptions{BatchSize: 16, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent,
		Checkpoint: &nn.CheckpointOptions{Dir: dir, EveryNSteps: 3}}
	if _, err := build().Fit(context.Background(), x, y, o); err != nil {
		panic(err)
	}
	info, err := nn.ReadCheckpointInfo(nn.CheckpointPath(dir))
	if err != nil {
		panic(err)
	}
	fmt.Printf("checkpoint: %d epochs, step %d, %s\n", info.Epoch, info.FitStep, info.Optimizer)

	// A new process would rebuild the same model and optimizer and resume.
	o.Epochs, o.Resume = 3, nn.CheckpointPath(dir)
	m := build()
	h, err := m.Fit(context.Background(), x, y, o)
	if err != nil {
		panic(err)
	}
	fmt.Printf("history: %d epochs, model step %d\n", len(h.Epoch), m.Step())
	// Output:
	// checkpoint: 2 epochs, step 8, *optim.Adam
	// history: 3 epochs, model step 12
}
