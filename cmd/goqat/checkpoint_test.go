package main

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/safetensors"
)

// trainArgs is the small training run of the checkpoint tests: 2 epochs of
// 32 steps.
var trainArgs = []string{"train", "--train-limit", "2000", "--test-limit", "256", "--epochs", "2", "--batch", "64", "--seed", "3", "--verbose", "0"}

// quantizeArgs is the QAT run of the checkpoint tests (after --in): 1 epoch
// of 32 steps.
var quantizeArgs = []string{"--epochs", "1", "--train-limit", "2048", "--calibrate", "256", "--test-limit", "128", "--batch", "64", "--seed", "5", "--verbose", "0"}

var (
	refOnce           sync.Once
	refFloat, refQAT  string
	refFloatErr, refQ string
)

// references runs the training and the QAT fine-tuning once, uninterrupted
// and without checkpoints, and returns the paths of their models.
func references(t *testing.T) (float, qat string) {
	t.Helper()
	refOnce.Do(func() {
		dir := filepath.Dir(binary) // removed by TestMain
		refFloat, refQAT = filepath.Join(dir, "ref-float.safetensors"), filepath.Join(dir, "ref-qat.safetensors")
		if _, stderr, code := run(t, append(trainArgs, "--out", refFloat)...); code != 0 {
			refFloatErr = stderr
			return
		}
		if _, stderr, code := run(t, append(append([]string{"quantize", "--in", refFloat}, quantizeArgs...), "--out", refQAT)...); code != 0 {
			refQ = stderr
		}
	})
	if refFloatErr != "" || refQ != "" {
		t.Fatalf("reference runs failed: %s%s", refFloatErr, refQ)
	}
	return refFloat, refQAT
}

// sameTensors fails unless the safetensors files a and b hold the same
// metadata and the same tensors, byte for byte.
func sameTensors(t *testing.T, a, b string) {
	t.Helper()
	fa, err := safetensors.ReadFile(a, safetensors.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := safetensors.ReadFile(b, safetensors.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.Tensors) != len(fb.Tensors) || len(fa.Metadata) != len(fb.Metadata) {
		t.Fatalf("%s and %s hold %d and %d tensors", a, b, len(fa.Tensors), len(fb.Tensors))
	}
	for k, v := range fa.Metadata {
		if fb.Metadata[k] != v {
			t.Errorf("metadata %q differs", k)
		}
	}
	for name, ta := range fa.Tensors {
		tb, ok := fb.Tensors[name]
		if !ok || ta.DType != tb.DType || !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("tensor %q differs between %s and %s", name, filepath.Base(a), filepath.Base(b))
		}
	}
}

// proc is a goqat process whose stderr lines arrive on a channel.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	out   bytes.Buffer
	done  chan struct{}
}

// start starts goqat with args and extra environment.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), lines: make(chan string, 100), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &p.out
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// wait waits for the process and returns its exit code (-1 if killed by a
// signal) and its stderr.
func (p *proc) wait(t *testing.T) (int, string) {
	t.Helper()
	var stderr []string
	for l := range p.lines {
		stderr = append(stderr, l)
	}
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), strings.Join(stderr, "\n")
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, strings.Join(stderr, "\n")
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}

// interruptAndResume runs args with checkpoints every 3 steps, interrupts
// it twice (SIGKILL at a random moment after a random step below maxStep,
// then SIGTERM), resumes to the end and checks that the model it saves
// equals ref bit for bit.
func interruptAndResume(t *testing.T, args []string, ref string, maxStep int) {
	dir := t.TempDir()
	ckdir, out := filepath.Join(dir, "ck"), filepath.Join(dir, "out.safetensors")
	args = append(append([]string(nil), args...), "--checkpoint-dir", ckdir, "--checkpoint-every", "3", "--out", out)
	ck := nn.CheckpointPath(ckdir)
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	t.Logf("random seed %d", seed)

	// SIGKILL at a random moment after a random step.
	p := start(t, nil, args...)
	after := 3 + r.IntN(maxStep-3)
	waitFile(t, ck)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if i, err := nn.ReadCheckpointInfo(ck); err == nil && i.FitStep >= after {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at step %d or later", after)
		}
	}
	time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGKILL)
	code, stderr := p.wait(t)
	if code != -1 {
		t.Fatalf("the run ended (exit %d, %s) before SIGKILL; the test needs a longer run", code, stderr)
	}
	info, err := nn.ReadCheckpointInfo(ck)
	if err != nil {
		t.Fatalf("checkpoint after SIGKILL: %v", err)
	}
	t.Logf("killed; checkpoint at epoch %d batch %d (step %d)", info.Epoch, info.Batch, info.FitStep)

	// Resume, and stop with SIGTERM once a newer checkpoint exists: the
	// process saves one more and exits with 143.
	p = start(t, nil, append(args, "--resume")...)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if i, err := nn.ReadCheckpointInfo(ck); err == nil && i.FitStep > info.FitStep {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the resumed run saved no new checkpoint")
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	code, stderr = p.wait(t)
	if code != 143 || strings.Count(stderr, "\n") != 0 || !strings.Contains(stderr, "interrupted by SIGTERM; checkpoint saved") {
		t.Fatalf("SIGTERM: exit %d, stderr %q", code, stderr)
	}
	info2, err := nn.ReadCheckpointInfo(ck)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("terminated; checkpoint at epoch %d batch %d (step %d)", info2.Epoch, info2.Batch, info2.FitStep)

	// Resume to the end.
	_, stderr, code = run(t, append(args, "--resume")...)
	if code != 0 {
		t.Fatalf("final resume failed (%d): %s", code, stderr)
	}
	sameTensors(t, out, ref)
}

// TestTrainKillResume kills `goqat train` (SIGKILL, then SIGTERM) and
// checks that the resumed run saves the same weights as an uninterrupted
// one, bit for bit.
func TestTrainKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model three times")
	}
	ref, _ := references(t)
	interruptAndResume(t, trainArgs, ref, 50)
}

// TestQuantizeKillResume does the same for `goqat quantize`: the QAT
// model's quantizer state comes back from the checkpoint too.
func TestQuantizeKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a model three times")
	}
	float, ref := references(t)
	interruptAndResume(t, append([]string{"quantize", "--in", float}, quantizeArgs...), ref, 18)
}

// TestCheckpointKillDuringWrite kills `goqat train` while it writes its
// second checkpoint (GOQAT_TEST_CHECKPOINT_STALL holds the complete
// temporary file before the rename) and checks that the first checkpoint is
// intact and resumes to the uninterrupted result.
func TestCheckpointKillDuringWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ref, _ := references(t)
	dir := t.TempDir()
	ckdir, out := filepath.Join(dir, "ck"), filepath.Join(dir, "out.safetensors")
	args := append(append([]string(nil), trainArgs...), "--checkpoint-dir", ckdir, "--checkpoint-every", "5", "--out", out)
	p := start(t, []string{stallEnv + "=1s"}, args...)
	stalls := 0
	for l := range p.lines {
		if strings.Contains(l, "checkpoint write stalled") {
			if stalls++; stalls == 2 {
				p.cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	if code, stderr := p.wait(t); code != -1 || stalls != 2 {
		t.Fatalf("exit %d after %d stalls: %s", code, stalls, stderr)
	}
	tmps, _ := filepath.Glob(filepath.Join(ckdir, "."+nn.CheckpointFile+".tmp-*"))
	if len(tmps) != 1 {
		t.Errorf("temporary files after the kill: %v, want the interrupted one", tmps)
	}
	info, err := nn.ReadCheckpointInfo(nn.CheckpointPath(ckdir))
	if err != nil {
		t.Fatalf("the previous checkpoint does not load: %v", err)
	}
	if info.FitStep != 5 {
		t.Errorf("checkpoint at step %d, want the first one (5)", info.FitStep)
	}
	if _, stderr, code := run(t, append(args, "--resume")...); code != 0 {
		t.Fatalf("resume failed (%d): %s", code, stderr)
	}
	tmps, _ = filepath.Glob(filepath.Join(ckdir, ".*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left after resuming: %v", tmps)
	}
	sameTensors(t, out, ref)
}

// TestCheckpointFlags checks the flag errors and a resume without a
// checkpoint.
func TestCheckpointFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume"}, "--resume needs --checkpoint-dir"},
		{[]string{"train", "--checkpoint-every", "5"}, "--checkpoint-every needs --checkpoint-dir"},
		{[]string{"train", "--checkpoint-dir", dir, "--checkpoint-every", "-1"}, "--checkpoint-every must not be negative"},
		{[]string{"train", "--clip-norm", "-1"}, "--clip-norm must not be negative"},
		{[]string{"train", "--checkpoint-dir", dir, "--resume", "--train-limit", "64", "--test-limit", "64"}, "no checkpoint in " + dir},
		{[]string{"quantize", "--in", "x.safetensors", "--resume"}, "--resume needs --checkpoint-dir"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code == 0 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("goqat %v: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
		}
	}
}
