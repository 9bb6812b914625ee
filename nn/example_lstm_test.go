package nn_test

import (
	"fmt"
	"log"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// A sequence model reads inputs (N, T, F): here token indices padded with
// 0 go through an Embedding that makes index 0 a zero vector (MaskZero),
// a bidirectional LSTM that skips those padding steps (Masking) and
// returns every step, and a GRU that keeps the last step (docs/DESIGN.md,
// Sequence layers).
func ExampleNewLSTM() {
	emb := nn.NewEmbedding(1000, 32)
	emb.MaskZero = true
	lstm := nn.NewLSTM(64)
	lstm.ReturnSequences, lstm.Masking = true, true
	bi, err := nn.NewBidirectional(lstm)
	if err != nil {
		log.Fatal(err)
	}
	gru := nn.NewGRU(32)
	gru.Masking = true
	m, err := nn.NewSequential(tensor.Shape{20}, emb, bi, gru, nn.NewDense(2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(m.Summary())

	// Two sentences of 3 and 2 tokens, padded to 20 steps.
	x := tensor.New(2, 20)
	copy(x.Data, []float32{12, 7, 311})
	copy(x.Data[20:], []float32{5, 42})
	out, err := m.Forward(nil, x)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0].Shape)
	// Output:
	// Model: "sequential"
	// ____________________________________________________________________
	//  Layer (type)                    Output Shape             Param #
	// ====================================================================
	//  embedding (Embedding)           (None, 20, 32)           32,000
	//  bidirectional (Bidirectional)   (None, 20, 128)          49,664
	//  gru (GRU)                       (None, 32)               15,552
	//  dense (Dense)                   (None, 2)                66
	// ====================================================================
	// Total params: 97,282
	// Trainable params: 97,282
	// Non-trainable params: 0
	// ____________________________________________________________________
	// (2, 2)
}
