package quantize

import (
	"context"
	"errors"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// PTQ is post-training quantization, the path most TFLite users take
// first: Model(m, opts...) (BN folded, per-channel weights by default),
// then Calibrate on the samples x (N, input shape...), batchSize at a time,
// with no training. The result is a QAT model in its calibrated state: it
// converts (convert.Convert) to the same integer model format as after
// QAT, or it can be fine-tuned. m is not modified.
func PTQ(ctx context.Context, m *nn.Model, x *tensor.Tensor, batchSize int, opts ...Option) (*nn.Model, error) {
	if m == nil {
		return nil, errors.New("quantize: PTQ of a nil model")
	}
	qm, err := Model(m, opts...)
	if err != nil {
		return nil, err
	}
	if err := Calibrate(ctx, qm, x, batchSize); err != nil {
		return nil, err
	}
	return qm, nil
}
