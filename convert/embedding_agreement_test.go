package convert

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// tokenTask returns n sequences of t tokens in [1, vocab) labelled by the
// first token modulo 3, some with a padded tail of zeros.
func tokenTask(r *rand.Rand, n, t, vocab int) (x, y *tensor.Tensor) {
	x, y = tensor.New(n, t), tensor.New(n)
	for i := 0; i < n; i++ {
		end := t - r.IntN(3)
		for s := 0; s < end; s++ {
			x.Data[i*t+s] = float32(1 + r.IntN(vocab-1))
		}
		y.Data[i] = float32(int(x.Data[i*t]) % 3)
	}
	return x, y
}

// hostileIndices replaces about a quarter of x's tokens by values that are
// not rows (negative, InputDim and beyond, fractions, infinities, NaN) or
// by 0.
func hostileIndices(r *rand.Rand, x *tensor.Tensor, vocab int) {
	bad := []float32{-1, float32(vocab), float32(vocab) + 3, 0.5, 2.25, -0.5, 1e30, float32(math.Inf(1)),
		float32(math.Inf(-1)), float32(math.NaN()), 0, 0, float32(vocab) - 0.5}
	for i := range x.Data {
		if r.IntN(4) == 0 {
			x.Data[i] = bad[r.IntN(len(bad))]
		}
	}
}

// TestAgreementEmbedding trains Embedding -> LSTM -> Dense (MaskZero)
// and Embedding -> Flatten -> Dense on a generated token task, fine-tunes
// them with QAT, converts them and checks that the integer model gives
// exactly the QAT model's output codes on valid and hostile indices, also
// after a save/load round trip and with FullInteger, and that the input
// stays the float32 indices (no Quantize op).
func TestAgreementEmbedding(t *testing.T) {
	const steps, vocab = 6, 11
	r := rand.New(rand.NewPCG(5, 19))
	x, y := tokenTask(r, 768, steps, vocab)
	xt, yt := tokenTask(r, 400, steps, vocab)
	xh := xt.Clone()
	hostileIndices(r, xh, vocab)
	for _, c := range []struct {
		name     string
		maskZero bool
		lstm     bool
	}{{"lstm", true, true}, {"flatten", false, false}, {"flatten-maskzero", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			emb := nn.NewEmbedding(vocab, 8)
			emb.MaskZero = c.maskZero
			layers := []nn.Layer{emb}
			if c.lstm {
				layers = append(layers, &nn.LSTM{RecurrentOptions: nn.RecurrentOptions{Units: 10, UseBias: true}})
			} else {
				layers = append(layers, nn.NewFlatten())
			}
			layers = append(layers, nn.NewDense(3))
			m, err := nn.NewSequential(tensor.Shape{steps}, layers...)
			if err != nil {
				t.Fatal(err)
			}
			m.InitWeights(3)
			fitModel(t, m, x, y, 2e-2, 4)
			floatAcc := accuracyOf(t, m, xt, yt)
			qat, err := quantize.Model(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := qat.Layer(emb.Name()).(*quantize.QuantizeEmbedding); !ok {
				t.Fatalf("the Embedding is a %T in the QAT model", qat.Layer(emb.Name()))
			}
			fitModel(t, qat, x, y, 1e-3, 1)
			qatAcc := accuracyOf(t, qat, xt, yt)
			t.Logf("float accuracy %.3f, QAT %.3f", floatAcc, qatAcc)
			if floatAcc < 0.9 || qatAcc < floatAcc-0.05 {
				t.Errorf("float accuracy %.3f, QAT %.3f", floatAcc, qatAcc)
			}
			im, err := Convert(qat)
			if err != nil {
				t.Fatal(err)
			}
			if op := im.Ops[0]; op.Type != lite.OpEmbedding || im.Tensors[op.Inputs[0]].DType != lite.Float32 {
				t.Fatalf("first op %s on a %s input, want Embedding on the float32 indices", op.Type, im.Tensors[op.Inputs[0]].DType)
			}
			fim, err := Convert(qat, FullInteger())
			if err != nil {
				t.Fatal(err)
			}
			if fim.Tensors[fim.Inputs[0]].DType != lite.Float32 {
				t.Error("FullInteger: the index input is not float32")
			}
			for _, mm := range []*lite.Model{im, fim} {
				for _, in := range []*tensor.Tensor{xt, xh} {
					a := compareOutputs(t, qat, mm, in, 64)
					if a.same != a.vals || a.top1Same != a.n {
						t.Errorf("%d of %d output codes and %d of %d classes differ", a.vals-a.same, a.vals, a.n-a.top1Same, a.n)
					}
				}
			}
			path := filepath.Join(t.TempDir(), "embedding.int8.safetensors")
			if err := lite.Save(path, im); err != nil {
				t.Fatal(err)
			}
			lm, err := lite.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if a := compareOutputs(t, qat, lm, xh, 64); a.same != a.vals {
				t.Errorf("after a save/load round trip %d of %d output codes differ", a.vals-a.same, a.vals)
			}
			if c.maskZero {
				for _, w := range lm.Ops[0].Weights[:8] {
					if w != 0 {
						t.Fatalf("MaskZero: row 0 of the integer table is %v, want zeros", lm.Ops[0].Weights[:8])
					}
				}
			}
		})
	}
}

// TestEmbeddingSharedInputRefused checks that Model refuses an input read
// by an Embedding and by another layer (the indices would be quantized).
func TestEmbeddingSharedInputRefused(t *testing.T) {
	in := nn.Input(4)
	h := nn.Call(nn.NewFlatten(), nn.Call(nn.NewEmbedding(5, 3), in))
	out := nn.Call(nn.NewAdd(), nn.Call(nn.NewDense(2), h), nn.Call(nn.NewDense(2), in))
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{out})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(1)
	if _, err := quantize.Model(m); err == nil || !strings.Contains(err.Error(), "feeds an Embedding and other layers") {
		t.Fatalf("err = %v", err)
	}
}
