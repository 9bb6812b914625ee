package quantize

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// FuzzModelFromFile drives the model-from-metadata builder (nn's
// architecture JSON and weights, quantize's layers and quantizers, Link)
// with mutated float and QAT files: every input either loads into a model
// that runs, or fails with a one-line error; nothing panics.
func FuzzModelFromFile(f *testing.F) {
	float, err := nn.NewSequential(tensor.Shape{6, 6, 1},
		nn.NewConv2D(3, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewMaxPooling2D(2, 2), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		f.Fatal(err)
	}
	q, err := Model(float)
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []*nn.Model{float, q} {
		st, err := nn.ToSafetensors(m)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, st); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := safetensors.Read(bytes.NewReader(data), int64(len(data)), safetensors.Limits{MaxTotal: 1 << 20})
		if err != nil {
			return
		}
		m, err := nn.FromSafetensors(st)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		Link(m)
		in := m.Inputs()
		if len(in) != 1 {
			return
		}
		shape := in[0]
		size := 1
		for _, d := range shape {
			size *= d
		}
		if size <= 0 || size > 1<<16 {
			return
		}
		for _, l := range m.Layers() { // keep each run small
			n := 1
			for _, d := range m.OutputShape(l.Name()) {
				n *= d
			}
			if n > 1<<16 {
				return
			}
		}
		x := tensor.New(append(tensor.Shape{1}, shape...)...)
		_, _ = m.Predict(context.Background(), x, 1) // must not panic
	})
}

// TestLoadRefusesHugeLayers: an architecture asking for far more parameters
// than the file holds is refused before they are allocated (found by
// FuzzModelFromFile: it used to run out of memory), for float and QAT files.
func TestLoadRefusesHugeLayers(t *testing.T) {
	float, err := nn.NewSequential(tensor.Shape{6, 6, 1},
		nn.NewConv2D(3, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewMaxPooling2D(2, 2), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Model(float)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*nn.Model{float, q} {
		for _, r := range [][2]string{{`"units":2`, `"units":2000000000`}, {`"filters":3`, `"filters":2000000000`}} {
			st, err := nn.ToSafetensors(m)
			if err != nil {
				t.Fatal(err)
			}
			v := st.Metadata[nn.ModelMetadataKey]
			if !strings.Contains(v, r[0]) {
				t.Fatalf("architecture without %s", r[0])
			}
			st.Metadata[nn.ModelMetadataKey] = strings.Replace(v, r[0], r[1], 1)
			if _, err := nn.FromSafetensors(st); err == nil || !strings.Contains(err.Error(), "more than the file can hold") {
				t.Errorf("%s: got %v, want a refusal", r[1], err)
			}
		}
	}
}
