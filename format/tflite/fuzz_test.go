package tflite

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// FuzzRead reads mutated .tflite files with Read and ReadFloat: a one-line
// error or a model that validates, never a panic, a hang or an allocation beyond the file's
// size (the verifier's budget). Seeded with the exported op models, full
// integer and float-edged.
func FuzzRead(f *testing.F) {
	ms := opModels(rand.New(rand.NewPCG(1, 2)))
	for _, name := range sortedNames(ms) {
		m := ms[name]
		for _, full := range []bool{false, true} {
			b, err := Marshal(m, Options{FullInteger: full})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	// The sequence ops: LSTMs (sequence and last step) and an Embedding.
	lr := rand.New(rand.NewPCG(3, 4))
	for _, c := range lstmCases[:2] {
		b, err := Marshal(lstmModel(lr, c), Options{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	em, err := FullInteger(embeddingLSTM(lr, 4, 9, 3, 4))
	if err != nil {
		f.Fatal(err)
	}
	eb, err := Marshal(em, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(eb)
	fm, err := nn.NewSequential(tensor.Shape{6, 6, 2}, nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewGlobalAveragePooling2D(), nn.NewDense(3))
	if err != nil {
		f.Fatal(err)
	}
	b, err := MarshalFloat(fm)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ReadFloat(b); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("ReadFloat: error of several lines: %q", err)
		}
		m, err := Read(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Read returned a model that does not validate: %v", err)
		}
	})
}
