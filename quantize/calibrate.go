package quantize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Calibrate sets the quantizers' ranges of a QAT model (from Model) from
// samples x (N, input shape...), batchSize at a time, without training:
// post-training quantization, or a warm start for QAT. The passes run in
// training mode so that the ranges update (weights: last value;
// activations: moving average from the first batch; input: all values),
// with every FoldedConvBN temporarily frozen so that batch normalization
// uses, and does not change, its moving statistics. No weight changes
// (BatchNormalization layers left unfolded do update their moving
// statistics, and Dropout is active, as in training).
func Calibrate(ctx context.Context, m *nn.Model, x *tensor.Tensor, batchSize int) error {
	if m == nil || x == nil || len(x.Shape) == 0 || x.Shape[0] == 0 {
		return errors.New("quantize: Calibrate needs a model and a non-empty batch of samples")
	}
	if batchSize <= 0 {
		batchSize = 32
	}
	var restore []*FoldedConvBN
	for _, l := range m.Layers() {
		if f, ok := l.(*FoldedConvBN); ok && !f.Frozen() {
			f.frozen.Value.Data[0] = 1
			restore = append(restore, f)
		}
	}
	defer func() {
		for _, f := range restore {
			f.frozen.Value.Data[0] = 0
		}
	}()
	c := &nn.Context{Training: true, Rand: rand.New(rand.NewPCG(0, 0)), Step: m.Step()}
	n := x.Shape[0]
	for lo := 0; lo < n; lo += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := m.Forward(c, x.Batch(lo, min(n, lo+batchSize))); err != nil {
			return fmt.Errorf("quantize: Calibrate: %w", err)
		}
	}
	return nil
}
