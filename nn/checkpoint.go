package nn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// OptimizerState is an optimizer's resumable state (optim.State is this
// type).
type OptimizerState struct {
	// Steps is the number of Step calls taken.
	Steps int
	// Slots maps each slot name ("velocity" for SGD with momentum, "m" and
	// "v" for Adam) to one tensor per parameter of the params list given to
	// State, in that order: a copy of the slot, zeros for a parameter not
	// stepped yet, nil for a non-trainable parameter.
	Slots map[string][]*tensor.Tensor
}

// StatefulOptimizer is an Optimizer whose state checkpoints save and
// restore: optim.SGD and optim.Adam implement it. Fit with checkpoints
// needs one, so that a resumed run takes the same updates as an
// uninterrupted one.
type StatefulOptimizer interface {
	Optimizer
	// State returns a copy of the state for params.
	State(params []*Param) OptimizerState
	// SetState restores a state that State returned for the same params,
	// or returns an error (and changes nothing) if it does not fit them.
	SetState(params []*Param, st OptimizerState) error
}

// CheckpointFile is the name of the checkpoint Fit keeps in
// CheckpointOptions.Dir.
const CheckpointFile = "checkpoint.safetensors"

// CheckpointPath returns the path of the checkpoint in dir.
func CheckpointPath(dir string) string { return filepath.Join(dir, CheckpointFile) }

// CheckpointOptions makes Fit save checkpoints that FitOptions.Resume
// continues from. A checkpoint holds every parameter (trainable weights and
// state such as BN moving statistics and quantizer ranges), the optimizer's
// state, the position (epoch and batch), the partial sums of the current
// epoch's metrics and the history so far; shuffling and dropout are derived
// from the seed and the position, so nothing else is needed to continue.
type CheckpointOptions struct {
	// Dir is the folder of the checkpoint file, CheckpointPath(Dir); Fit
	// creates it if needed.
	Dir string
	// EveryNSteps, if positive, saves a checkpoint after every N optimizer
	// steps of the Fit call. Fit also saves at the end of every epoch and,
	// when its context is cancelled, at the step where it stops.
	EveryNSteps int
	// OnSave, if set, is called after each checkpoint is in place, with its
	// path, the number of epochs completed and the batches done in the
	// current one.
	OnSave func(path string, epoch, batch int)
	// BeforeReplace, if set, is called with the temporary file's path once
	// the new checkpoint is completely written and synced, just before it
	// replaces the old one. It exists for tests that interrupt a write.
	BeforeReplace func(tmp string)
}

// CheckpointInfo describes a checkpoint file (see ReadCheckpointInfo).
type CheckpointInfo struct {
	// Epoch is the number of epochs completed.
	Epoch int
	// Batch is the number of batches done in epoch Epoch (0 at an epoch
	// boundary).
	Batch int
	// FitStep is the number of optimizer steps the Fit call(s) took.
	FitStep int
	// ModelStep is the model's step counter (Model.Step).
	ModelStep int
	// Seed, BatchSize, Samples, Shuffle and Epochs are the Fit settings the
	// checkpoint was written with; resuming needs the same seed, batch
	// size, sample count and shuffling.
	Seed      uint64
	BatchSize int
	Samples   int
	Shuffle   bool
	Epochs    int
	// Optimizer is the optimizer's Go type, e.g. "*optim.Adam".
	Optimizer string
	// History holds the metrics of the completed epochs.
	History *History
}

// NonFiniteError reports a NaN or an infinity in the loss, a gradient or a
// weight. Fit stops at once: the optimizer applies no update from that step
// and no checkpoint is written after it (state that the step's forward pass
// updates, such as BN moving statistics, may already include the batch, so
// resume from the last checkpoint).
type NonFiniteError struct {
	// Step is the model's optimizer step (Context.Step) of the failing
	// batch.
	Step int
	// Epoch and Batch locate the step, both from 1.
	Epoch, Batch int
	// What is "loss", "gradient" or "weight".
	What string
	// Param names the parameter, "<layer>/<param>" ("" for the loss).
	Param string
	// Index is the first bad element of the parameter.
	Index int
	// Value is the bad value (NaN, +Inf or -Inf).
	Value float64
}

// Error describes the failure on one line.
func (e *NonFiniteError) Error() string {
	where := fmt.Sprintf("at step %d (epoch %d, batch %d)", e.Step, e.Epoch, e.Batch)
	if e.Param == "" {
		return fmt.Sprintf("nn: Fit: the %s is %v %s; training stopped before the update", e.What, e.Value, where)
	}
	return fmt.Sprintf("nn: Fit: the %s of %q is %v (element %d) %s; training stopped", e.What, e.Param, e.Value, e.Index, where)
}

// Checkpoint metadata.
const (
	checkpointMetadataKey = "goqat.checkpoint"
	checkpointFormat      = "goqat.checkpoint"
	checkpointVersion     = 1
	optimizerPrefix       = "optimizer/"
)

// exactFloat is a float64 that round-trips JSON exactly, NaN and
// infinities included (as strings).
type exactFloat float64

// MarshalJSON writes the shortest exact decimal as a string.
func (f exactFloat) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatFloat(float64(f), 'g', -1, 64) + `"`), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *exactFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("bad number %q", s)
	}
	*f = exactFloat(v)
	return nil
}

func toExact(v []float64) []exactFloat {
	out := make([]exactFloat, len(v))
	for i, x := range v {
		out[i] = exactFloat(x)
	}
	return out
}

func fromExact(v []exactFloat) []float64 {
	if len(v) == 0 {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// ckptHistory is History in the checkpoint's JSON.
type ckptHistory struct {
	Epoch        []int        `json:"epoch"`
	Loss         []exactFloat `json:"loss"`
	Accuracy     []exactFloat `json:"accuracy"`
	ValLoss      []exactFloat `json:"val_loss"`
	ValAccuracy  []exactFloat `json:"val_accuracy"`
	EpochSeconds []exactFloat `json:"epoch_seconds"`
}

// ckptMeta is the checkpoint's JSON metadata.
type ckptMeta struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Epoch     int    `json:"epoch"`
	Batch     int    `json:"batch"`
	FitStep   int    `json:"fit_step"`
	ModelStep int    `json:"model_step"`
	Seed      uint64 `json:"seed"`
	BatchSize int    `json:"batch_size"`
	Samples   int    `json:"samples"`
	Shuffle   bool   `json:"shuffle"`
	Epochs    int    `json:"epochs"`
	// Optimizer is the optimizer's Go type; OptimizerSteps its step count.
	Optimizer      string `json:"optimizer"`
	OptimizerSteps int    `json:"optimizer_steps"`
	// The partial sums of the current epoch.
	LossSum exactFloat `json:"loss_sum"`
	Correct int        `json:"correct"`
	Seen    int        `json:"seen"`
	Seconds exactFloat `json:"seconds"`
	// Params lists the parameters' keys in the model's order.
	Params  []string    `json:"params"`
	History ckptHistory `json:"history"`
}

// fitPos is where a Fit run is, and the partial sums of its current epoch.
type fitPos struct {
	epoch, batch int // epochs completed, batches done in the current one
	fitStep      int
	lossSum      float64
	correct      int
	seen         int
	seconds      float64
}

// paramKeys returns "<layer>/<param>" for every parameter of m, in the
// order of collectParams.
func (m *Model) paramKeys() []string {
	var keys []string
	for _, l := range m.layers {
		for _, n := range paramNames(l) {
			keys = append(keys, l.Name()+"/"+n)
		}
	}
	return keys
}

// checkpointer saves Fit's checkpoints.
type checkpointer struct {
	o      CheckpointOptions
	path   string
	opt    StatefulOptimizer
	keys   []string
	params []*Param
	fit    FitOptions
	n      int
}

// newCheckpointer validates the options and prepares the folder, removing
// temporary files that an interrupted save left behind.
func newCheckpointer(o *CheckpointOptions, opt Optimizer, fo FitOptions, n int, params []*Param, keys []string) (*checkpointer, error) {
	if o.Dir == "" {
		return nil, errors.New("nn: Fit: checkpoint Dir is empty")
	}
	if o.EveryNSteps < 0 {
		return nil, fmt.Errorf("nn: Fit: checkpoint EveryNSteps %d is negative", o.EveryNSteps)
	}
	so, ok := opt.(StatefulOptimizer)
	if !ok {
		return nil, fmt.Errorf("nn: Fit: checkpoints need the optimizer's state, and %T does not implement nn.StatefulOptimizer", opt)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("nn: Fit: checkpoint folder: %w", err)
	}
	if stale, _ := filepath.Glob(filepath.Join(o.Dir, "."+CheckpointFile+".tmp-*")); len(stale) > 0 {
		for _, s := range stale {
			os.Remove(s)
		}
	}
	return &checkpointer{o: *o, path: CheckpointPath(o.Dir), opt: so, keys: keys, params: params, fit: fo, n: n}, nil
}

// save writes a checkpoint of model m at position pos with history h. It
// refuses to save non-finite weights, so that the checkpoint on disk is
// always a good one.
func (ck *checkpointer) save(m *Model, pos fitPos, h *History) error {
	for i, p := range ck.params {
		if j, v, bad := firstNonFinite(p.Value.Data); bad {
			return &NonFiniteError{Step: m.stepCount, Epoch: pos.epoch + 1, Batch: pos.batch, What: "weight", Param: ck.keys[i], Index: j, Value: v}
		}
	}
	st := ck.opt.State(ck.params)
	meta := ckptMeta{
		Format: checkpointFormat, Version: checkpointVersion,
		Epoch: pos.epoch, Batch: pos.batch, FitStep: pos.fitStep, ModelStep: m.stepCount,
		Seed: ck.fit.Seed, BatchSize: ck.fit.BatchSize, Samples: ck.n, Shuffle: !ck.fit.NoShuffle, Epochs: ck.fit.Epochs,
		Optimizer: fmt.Sprintf("%T", ck.opt), OptimizerSteps: st.Steps,
		LossSum: exactFloat(pos.lossSum), Correct: pos.correct, Seen: pos.seen, Seconds: exactFloat(pos.seconds),
		Params: ck.keys,
		History: ckptHistory{
			Epoch: h.Epoch, Loss: toExact(h.Loss), Accuracy: toExact(h.Accuracy),
			ValLoss: toExact(h.ValLoss), ValAccuracy: toExact(h.ValAccuracy), EpochSeconds: toExact(h.EpochSeconds),
		},
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("nn: checkpoint: %w", err)
	}
	f := &safetensors.File{Metadata: map[string]string{checkpointMetadataKey: string(js)}, Tensors: map[string]safetensors.Tensor{}}
	for i, p := range ck.params {
		f.Tensors[ck.keys[i]] = safetensors.F32(p.Value.Shape, p.Value.Data)
	}
	for slot, ts := range st.Slots {
		if strings.Contains(slot, "/") {
			return fmt.Errorf("nn: checkpoint: optimizer slot name %q contains a slash", slot)
		}
		if len(ts) != len(ck.params) {
			return fmt.Errorf("nn: checkpoint: optimizer slot %q has %d tensors for %d parameters", slot, len(ts), len(ck.params))
		}
		for i, t := range ts {
			if t != nil {
				f.Tensors[optimizerPrefix+slot+"/"+ck.keys[i]] = safetensors.F32(t.Shape, t.Data)
			}
		}
	}
	if err := writeAtomic(ck.path, f, ck.o.BeforeReplace); err != nil {
		return fmt.Errorf("nn: checkpoint: %w", err)
	}
	if ck.o.OnSave != nil {
		ck.o.OnSave(ck.path, pos.epoch, pos.batch)
	}
	return nil
}

// firstNonFinite returns the index and value of the first NaN or infinity
// in v.
func firstNonFinite(v []float32) (int, float64, bool) {
	for i, x := range v {
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return i, f, true
		}
	}
	return 0, 0, false
}

// writeAtomic writes f to path through a temporary file in the same folder:
// write, fsync, close, (hook), rename, fsync the folder. A reader sees the
// old file or the complete new one; a crash leaves at most a stray
// temporary file, which the next checkpointer removes.
func writeAtomic(path string, f *safetensors.File, hook func(tmp string)) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = safetensors.Write(bw, f); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if hook != nil {
		hook(tmp.Name())
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readCheckpoint reads and validates a checkpoint file's metadata.
func readCheckpoint(path string) (*safetensors.File, *ckptMeta, error) {
	f, err := safetensors.ReadFile(path, safetensors.Limits{})
	if err != nil {
		return nil, nil, err
	}
	raw, ok := f.Metadata[checkpointMetadataKey]
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a goqat checkpoint: no %q metadata", path, checkpointMetadataKey)
	}
	var meta ckptMeta
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, nil, fmt.Errorf("%s: checkpoint metadata: %v", path, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%s: checkpoint metadata: data after the JSON object", path)
	}
	switch {
	case meta.Format != checkpointFormat:
		return nil, nil, fmt.Errorf("%s: checkpoint format %q, want %q", path, meta.Format, checkpointFormat)
	case meta.Version != checkpointVersion:
		return nil, nil, fmt.Errorf("%s: unsupported checkpoint version %d (this goqat reads version %d)", path, meta.Version, checkpointVersion)
	case meta.Epoch < 0 || meta.Batch < 0 || meta.FitStep < 0 || meta.ModelStep < 0 || meta.BatchSize <= 0 || meta.Samples <= 0 ||
		meta.Epochs < 0 || meta.OptimizerSteps < 0 || meta.Correct < 0 || meta.Seen < 0:
		return nil, nil, fmt.Errorf("%s: checkpoint metadata has a negative or zero count", path)
	}
	h := meta.History
	k := len(h.Epoch)
	if k != meta.Epoch || len(h.Loss) != k || len(h.EpochSeconds) != k ||
		(len(h.Accuracy) != 0 && len(h.Accuracy) != k) || (len(h.ValLoss) != 0 && len(h.ValLoss) != k) ||
		(len(h.ValAccuracy) != 0 && len(h.ValAccuracy) != k) {
		return nil, nil, fmt.Errorf("%s: checkpoint history does not match its %d completed epochs", path, meta.Epoch)
	}
	return f, &meta, nil
}

// info converts the metadata to a CheckpointInfo.
func (meta *ckptMeta) info() *CheckpointInfo {
	h := meta.History
	return &CheckpointInfo{
		Epoch: meta.Epoch, Batch: meta.Batch, FitStep: meta.FitStep, ModelStep: meta.ModelStep,
		Seed: meta.Seed, BatchSize: meta.BatchSize, Samples: meta.Samples, Shuffle: meta.Shuffle, Epochs: meta.Epochs,
		Optimizer: meta.Optimizer,
		History: &History{
			Epoch: append([]int(nil), h.Epoch...), Loss: fromExact(h.Loss), Accuracy: fromExact(h.Accuracy),
			ValLoss: fromExact(h.ValLoss), ValAccuracy: fromExact(h.ValAccuracy), EpochSeconds: fromExact(h.EpochSeconds),
		},
	}
}

// ReadCheckpointInfo reads and validates the checkpoint at path and
// describes it, without a model.
func ReadCheckpointInfo(path string) (*CheckpointInfo, error) {
	_, meta, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return meta.info(), nil
}

// restore loads the checkpoint at path into m (weights and state) and the
// optimizer, after checking that it was written by a Fit of the same model
// with the same seed, batch size, samples and shuffling. Nothing changes
// unless everything fits. It returns the position to continue from and the
// history so far.
func (m *Model) restore(path string, opt Optimizer, fo FitOptions, n, bs, steps int, params []*Param, keys []string) (fitPos, *History, error) {
	f, meta, err := readCheckpoint(path)
	if err != nil {
		return fitPos{}, nil, fmt.Errorf("nn: Fit: resume: %w", err)
	}
	fail := func(format string, args ...any) (fitPos, *History, error) {
		return fitPos{}, nil, fmt.Errorf("nn: Fit: resume from %s: %s", path, fmt.Sprintf(format, args...))
	}
	switch {
	case meta.Seed != fo.Seed:
		return fail("it was written with seed %d, this run has seed %d", meta.Seed, fo.Seed)
	case meta.BatchSize != fo.BatchSize:
		return fail("it was written with batch size %d, this run has %d", meta.BatchSize, fo.BatchSize)
	case meta.Samples != n:
		return fail("it was written for %d samples, this run has %d", meta.Samples, n)
	case meta.Shuffle == fo.NoShuffle:
		return fail("it was written with shuffling %v, this run has %v", meta.Shuffle, !fo.NoShuffle)
	case meta.Batch > steps || (meta.Batch == steps && meta.Epoch >= fo.Epochs) || meta.FitStep != meta.Epoch*steps+meta.Batch:
		return fail("position epoch %d batch %d (step %d) does not fit %d batches per epoch", meta.Epoch, meta.Batch, meta.FitStep, steps)
	case meta.Seen != min(meta.Batch*bs, n):
		return fail("partial epoch sums do not fit its position")
	}
	if hist := meta.History; meta.Epoch > 0 &&
		((len(hist.Accuracy) > 0) != m.train.accuracy || (len(hist.ValLoss) > 0) != (fo.ValidationX != nil || fo.ValidationY != nil)) {
		return fail("its history was recorded with other metrics or validation data than this run's")
	}
	so, ok := opt.(StatefulOptimizer)
	if !ok {
		return fail("the optimizer %T does not implement nn.StatefulOptimizer, so its state cannot be restored", opt)
	}
	if got := fmt.Sprintf("%T", opt); got != meta.Optimizer {
		return fail("it holds the state of a %s optimizer, this run uses %s", meta.Optimizer, got)
	}
	if len(meta.Params) != len(keys) {
		return fail("it holds %d parameters, the model has %d", len(meta.Params), len(keys))
	}
	vals := make([][]float32, len(params))
	for i, p := range params {
		if meta.Params[i] != keys[i] {
			return fail("parameter %d is %q, the model's is %q", i, meta.Params[i], keys[i])
		}
		v, err := tensorFor(f, keys[i], p.Value.Shape)
		if err != nil {
			return fail("%v", err)
		}
		vals[i] = v
	}
	st := OptimizerState{Steps: meta.OptimizerSteps, Slots: map[string][]*tensor.Tensor{}}
	used := len(params)
	for name := range f.Tensors {
		rest, ok := strings.CutPrefix(name, optimizerPrefix)
		if !ok {
			continue
		}
		slot, _, ok := strings.Cut(rest, "/")
		if !ok || slot == "" {
			return fail("bad optimizer tensor name %q", name)
		}
		if st.Slots[slot] == nil {
			st.Slots[slot] = make([]*tensor.Tensor, len(params))
		}
	}
	for slot, ts := range st.Slots {
		for i, p := range params {
			name := optimizerPrefix + slot + "/" + keys[i]
			if _, ok := f.Tensors[name]; !ok {
				continue
			}
			v, err := tensorFor(f, name, p.Value.Shape)
			if err != nil {
				return fail("%v", err)
			}
			ts[i] = &tensor.Tensor{Shape: p.Value.Shape.Clone(), Data: v}
			used++
		}
	}
	if used != len(f.Tensors) {
		return fail("it holds %d tensors that are neither parameters nor optimizer slots of this model", len(f.Tensors)-used)
	}
	for i, x := range meta.History.Loss {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fail("history loss of epoch %d is %v", i+1, float64(x))
		}
	}
	if err := so.SetState(params, st); err != nil {
		return fail("%v", err)
	}
	for i, p := range params {
		copy(p.Value.Data, vals[i])
	}
	m.stepCount = meta.ModelStep
	pos := fitPos{
		epoch: meta.Epoch, batch: meta.Batch, fitStep: meta.FitStep,
		lossSum: float64(meta.LossSum), correct: meta.Correct, seen: meta.Seen, seconds: float64(meta.Seconds),
	}
	return pos, meta.info().History, nil
}

// tensorFor returns the F32 tensor name of f, checked against shape.
func tensorFor(f *safetensors.File, name string, shape tensor.Shape) ([]float32, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("missing tensor %q", name)
	}
	if t.DType != "F32" {
		return nil, fmt.Errorf("tensor %q has dtype %s, want F32", name, t.DType)
	}
	if !tensor.Shape(t.Shape).Equal(shape) {
		return nil, fmt.Errorf("tensor %q has shape %s, want %s", name, tensor.Shape(t.Shape), shape)
	}
	return t.AsF32()
}
