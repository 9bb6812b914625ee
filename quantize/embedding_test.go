package quantize

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// TestQuantizeEmbedding checks the QAT Embedding against nn.Embedding:
// Model makes it a QuantizeEmbedding with no QuantizeInput before it; in
// training its output is the table's rows fake-quantized per tensor
// (8-bit narrow codes times the scale, zeros for indices that are not
// rows and for 0 with MaskZero), the table's gradient is nn's (straight
// through), the indices get none; a save/load round trip keeps the
// outputs.
func TestQuantizeEmbedding(t *testing.T) {
	const steps, vocab, dim = 5, 7, 4
	for _, maskZero := range []bool{false, true} {
		emb := nn.NewEmbedding(vocab, dim)
		emb.MaskZero = maskZero
		m, err := nn.NewSequential(tensor.Shape{steps}, emb)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(4)
		qm, err := Model(m)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(qm.Layers()); n != 1 {
			t.Fatalf("%d layers in the QAT model, want the QuantizeEmbedding alone", n)
		}
		qe, ok := qm.Layers()[0].(*QuantizeEmbedding)
		if !ok {
			t.Fatalf("layer %T", qm.Layers()[0])
		}
		x := tensor.New(3, steps)
		copy(x.Data, []float32{0, 1, 6, 7, -1, 2.5, float32(math.NaN()), 3, 3, 0, 5, 4, 1e9, 2, 1})
		c := &nn.Context{Training: true}
		ys, err := qm.Forward(c, x)
		if err != nil {
			t.Fatal(err)
		}
		yf, err := m.Forward(&nn.Context{Training: true}, x)
		if err != nil {
			t.Fatal(err)
		}
		sc, zp := qe.TableQuant().Scales()
		if len(sc) != 1 || zp[0] != 0 {
			t.Fatalf("table scales %v, zero points %v: want one, zero point 0", sc, zp)
		}
		for i, v := range yf[0].Data {
			code := qmath.QuantizeValue(v, sc[0], 0, -127, 127)
			if want := float32(code) * sc[0]; ys[0].Data[i] != want {
				t.Fatalf("MaskZero %v: output %d = %v, want %v (code %d of %v)", maskZero, i, ys[0].Data[i], want, code, v)
			}
		}
		dOut := tensor.New(ys[0].Shape...)
		for i := range dOut.Data {
			dOut.Data[i] = float32(i%5) - 2
		}
		if err := qm.Backward(c, dOut); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(&nn.Context{Training: true}, dOut); err != nil {
			t.Fatal(err)
		}
		// The weight quantizers' straight-through rule passes the gradient
		// inside the range; the largest |w| (the range's edge) may fall
		// just outside it after rounding and get none, as for a kernel.
		gq, gf, w := qm.Params()[0].Grad.Data, m.Params()[0].Grad.Data, m.Params()[0].Value.Data
		top := float32(0)
		for _, v := range w {
			top = max(top, float32(math.Abs(float64(v))))
		}
		edge, nonzero := 0, 0
		for i := range gf {
			if gf[i] != 0 {
				nonzero++
			}
			if gq[i] != gf[i] {
				if gq[i] != 0 || float32(math.Abs(float64(w[i]))) != top {
					t.Fatalf("table gradient %d: %v, nn's %v", i, gq[i], gf[i])
				}
				edge++
			}
		}
		if nonzero < 8 || edge > 1 {
			t.Fatalf("%d table gradients set, %d cut at the range's edge", nonzero, edge)
		}
		path := filepath.Join(t.TempDir(), "emb.safetensors")
		if err := nn.Save(path, qm); err != nil {
			t.Fatal(err)
		}
		lm, err := nn.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		y0, _ := qm.Forward(&nn.Context{}, x)
		y1, err := lm.Forward(&nn.Context{}, x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range y0[0].Data {
			if y0[0].Data[i] != y1[0].Data[i] {
				t.Fatalf("after save/load output %d = %v, want %v", i, y1[0].Data[i], y0[0].Data[i])
			}
		}
	}
}

// TestQuantizeEmbeddingConfig checks that NewQuantizeEmbedding refuses a
// per-axis or asymmetric table quantizer and bad dimensions.
func TestQuantizeEmbeddingConfig(t *testing.T) {
	ok := Default8Bit.Weight(0)
	ok.PerAxis = false
	perAxis := Default8Bit.Weight(0)
	asym := ok
	asym.Symmetric = false
	for _, cfg := range []EmbeddingConfig{
		{Embedding: nn.EmbeddingConfig{InputDim: 3, OutputDim: 2}, Table: perAxis},
		{Embedding: nn.EmbeddingConfig{InputDim: 3, OutputDim: 2}, Table: asym},
		{Embedding: nn.EmbeddingConfig{InputDim: 0, OutputDim: 2}, Table: ok},
	} {
		if _, err := NewQuantizeEmbedding(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := NewQuantizeEmbedding(EmbeddingConfig{Embedding: nn.EmbeddingConfig{InputDim: 3, OutputDim: 2}, Table: ok}); err != nil {
		t.Error(err)
	}
}
