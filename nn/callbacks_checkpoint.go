package nn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ModelCheckpoint saves the model after epochs, as Keras's ModelCheckpoint
// (docs/DESIGN.md, Training callbacks): after every epoch, or with
// SaveBestOnly only after the epochs whose monitored metric beats the best
// so far. Each save is atomic (Save writes a temporary file and renames
// it), so the file always holds a complete model. It is a model file (as
// Save writes), not a resumable Fit checkpoint (see CheckpointOptions).
type ModelCheckpoint struct {
	// Path is the file to write. "{epoch}" in it is replaced by the epoch
	// number from 1, to keep one file per epoch.
	Path string
	// Monitor is the logged metric compared with SaveBestOnly (default
	// "val_loss").
	Monitor string
	// Mode is ModeMin, ModeMax or ModeAuto (the default: max for names
	// containing "acc", else min).
	Mode string
	// SaveBestOnly saves only when the monitored metric improves on the
	// best value so far (the first epoch always does).
	SaveBestOnly bool
	// Save writes the model (default: nn.Save); a caller that saves extra
	// metadata passes its own, which must also write atomically.
	Save func(path string, m *Model) error
	// Protect lists files the checkpoint must never overwrite (the model
	// and data it was trained from); TrainBegin fails if Path is one of
	// them (by file identity, or by absolute path).
	Protect []string

	mon   monitor
	saved []string // paths written, in order
}

// TrainBegin validates the settings and resets the best value.
func (c *ModelCheckpoint) TrainBegin(t *Training) error {
	if c.Path == "" {
		return errors.New("nn: ModelCheckpoint: Path is empty")
	}
	mon, err := newMonitor("ModelCheckpoint", c.Monitor, c.Mode, 0)
	if err != nil {
		return err
	}
	if c.SaveBestOnly {
		if err := mon.check("ModelCheckpoint", t); err != nil {
			return err
		}
	}
	if st, err := os.Stat(c.path(0)); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("nn: ModelCheckpoint: %s is not a regular file", c.path(0))
	}
	for _, in := range c.Protect {
		for _, p := range []string{c.path(0), c.path(t.Epochs - 1)} {
			if in != "" && samePath(in, p) {
				return fmt.Errorf("nn: ModelCheckpoint: %s would overwrite the input %s: write to another file", p, in)
			}
		}
	}
	c.mon, c.saved = mon, nil
	return nil
}

// EpochEnd saves the model if the epoch qualifies.
func (c *ModelCheckpoint) EpochEnd(t *Training, epoch int, logs map[string]float64) error {
	if c.SaveBestOnly {
		v, err := c.mon.value("ModelCheckpoint", logs)
		if err != nil {
			return err
		}
		if !c.mon.improves(v) {
			return nil
		}
		c.mon.record(v)
	}
	save := c.Save
	if save == nil {
		save = Save
	}
	p := c.path(epoch)
	if err := save(p, t.Model); err != nil {
		return fmt.Errorf("nn: ModelCheckpoint: %w", err)
	}
	c.saved = append(c.saved, p)
	return nil
}

// TrainEnd does nothing.
func (c *ModelCheckpoint) TrainEnd(*Training) error { return nil }

// Saved returns the paths written by the last Fit, in order (the same
// path repeated when Path has no "{epoch}").
func (c *ModelCheckpoint) Saved() []string { return c.saved }

// path returns Path for an epoch (from 0).
func (c *ModelCheckpoint) path(epoch int) string {
	return strings.ReplaceAll(c.Path, "{epoch}", strconv.Itoa(epoch+1))
}

// samePath reports whether a and b name the same file: by identity when
// both exist, else by absolute cleaned path.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	if errA != nil && !errors.Is(errA, fs.ErrNotExist) || errB != nil && !errors.Is(errB, fs.ErrNotExist) {
		return false
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
