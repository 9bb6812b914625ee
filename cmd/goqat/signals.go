package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/spf13/pflag"
)

// checkpointFlags are the flags of the commands that train: where and how
// often to save checkpoints, whether to resume, and gradient clipping.
type checkpointFlags struct {
	dir      string
	every    int
	resume   bool
	clipNorm float64
}

// addCheckpointFlags registers --checkpoint-dir, --checkpoint-every,
// --resume and --clip-norm.
func addCheckpointFlags(f *pflag.FlagSet, c *checkpointFlags) {
	f.StringVar(&c.dir, "checkpoint-dir", "", "save checkpoints in this folder (at each epoch end, every --checkpoint-every steps, and on SIGINT/SIGTERM)")
	f.IntVar(&c.every, "checkpoint-every", 0, "also save a checkpoint every N optimizer steps (0: epoch ends only)")
	f.BoolVar(&c.resume, "resume", false, "continue from the checkpoint in --checkpoint-dir (same flags as the interrupted run)")
	f.Float64Var(&c.clipNorm, "clip-norm", 0, "clip the gradients to this global L2 norm (0: no clipping)")
}

// validate rejects impossible settings with one clear line.
func (c *checkpointFlags) validate() error {
	switch {
	case c.every < 0:
		return fmt.Errorf("--checkpoint-every must not be negative, got %d", c.every)
	case c.every > 0 && c.dir == "":
		return errors.New("--checkpoint-every needs --checkpoint-dir")
	case c.resume && c.dir == "":
		return errors.New("--resume needs --checkpoint-dir")
	case !(c.clipNorm >= 0):
		return fmt.Errorf("--clip-norm must not be negative, got %g", c.clipNorm)
	}
	return nil
}

// savedCheckpoint is the path of the last checkpoint this process saved
// ("" if none): a command trains one model at a time.
var savedCheckpoint string

// stallEnv names the environment variable that makes every checkpoint write
// sleep for a duration between writing the temporary file and replacing the
// checkpoint, so that a test can kill the process mid-write.
const stallEnv = "GOQAT_TEST_CHECKPOINT_STALL"

// apply sets the checkpoint, resume and clipping options of a Fit. With
// --resume it fails if there is no checkpoint and returns the line that
// tells where training continues, for the caller to print just before
// training ("" without --resume).
func (c *checkpointFlags) apply(o *nn.FitOptions) (resuming string, err error) {
	o.ClipNorm = c.clipNorm
	if c.dir == "" {
		return "", nil
	}
	o.Checkpoint = &nn.CheckpointOptions{Dir: c.dir, EveryNSteps: c.every, OnSave: func(path string, _, _ int) { savedCheckpoint = path }}
	if s := os.Getenv(stallEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return "", fmt.Errorf("%s: %v", stallEnv, err)
		}
		o.Checkpoint.BeforeReplace = func(tmp string) {
			fmt.Fprintf(os.Stderr, "goqat: test: checkpoint write stalled at %s\n", filepath.Base(tmp))
			time.Sleep(d)
		}
	}
	if !c.resume {
		return "", nil
	}
	path := nn.CheckpointPath(c.dir)
	info, err := nn.ReadCheckpointInfo(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("--resume: no checkpoint in %s", c.dir)
	}
	if err != nil {
		return "", fmt.Errorf("--resume: %w", err)
	}
	o.Resume = path
	return fmt.Sprintf("Resuming from %s: %d epochs done, %d batches into epoch %d (step %d)", path, info.Epoch, info.Batch, info.Epoch+1, info.FitStep), nil
}

// exitOnSignal ends the process after training was interrupted by a
// signal: one line on stderr (naming the checkpoint, if one was saved) and
// exit code 128+signal (130 for SIGINT, 143 for SIGTERM). It returns err
// unchanged when no signal was received.
func exitOnSignal(sig syscall.Signal, err error, c checkpointFlags) error {
	if sig == 0 || err == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	name := signalName(sig)
	var msg string
	switch {
	case c.dir == "":
		msg = fmt.Sprintf("goqat: interrupted by %s; no checkpoint (use --checkpoint-dir)", name)
	case !isOnlyCancel(err):
		msg = fmt.Sprintf("goqat: interrupted by %s; saving the checkpoint failed: %s", name, oneLine(err))
	case savedCheckpoint == "":
		msg = fmt.Sprintf("goqat: interrupted by %s before training started; no checkpoint saved", name)
	default:
		msg = fmt.Sprintf("goqat: interrupted by %s; checkpoint saved in %s (continue with --resume)", name, savedCheckpoint)
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(128 + int(sig))
	return nil
}

// isOnlyCancel reports whether err is a cancellation that was not joined
// with a failure to save the checkpoint.
func isOnlyCancel(err error) bool {
	var j interface{ Unwrap() []error }
	return !errors.As(err, &j)
}

// oneLine joins the lines of an error message.
func oneLine(err error) string {
	b := []byte(err.Error())
	for i, c := range b {
		if c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
