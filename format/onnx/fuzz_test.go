package onnx

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// tinyModel is a small float model with most exportable layer types, the
// fuzzer's seed.
func tinyModel(t testing.TB) *nn.Model {
	x0 := nn.Input(8, 8, 1)
	c := nn.NewConv2D(4, 3, 3)
	c.Padding = "same"
	x := nn.Call(c, x0)
	x = nn.Call(nn.NewBatchNormalization(), x)
	x = nn.Call(nn.NewReLU6(), x)
	dw := nn.NewDepthwiseConv2D(3, 3)
	dw.Padding = "same"
	y := nn.Call(dw, x)
	y = nn.Call(nn.NewReLU(), y)
	x = nn.Call(nn.NewAdd(), x, y)
	z := nn.Call(nn.NewZeroPadding2D(1, 1, 1, 1), x)
	z = nn.Call(nn.NewMaxPooling2D(2, 2), z)
	a := nn.Call(nn.NewAveragePooling2D(2, 2), x)
	a = nn.Call(nn.NewConv2D(4, 2, 2), nn.Call(nn.NewZeroPadding2D(0, 1, 0, 1), a))
	x = nn.Call(nn.NewConcatenate(), nn.Call(nn.NewAveragePooling2D(2, 2), x), a)
	g := nn.Call(nn.NewGlobalAveragePooling2D(), z)
	f := nn.Call(nn.NewFlatten(), x)
	x = nn.Call(nn.NewConcatenate(), f, g)
	x = nn.Call(nn.NewDense(6), x)
	x = nn.Call(nn.NewReshape(2, 3), x)
	sm, err := nn.NewActivation("softmax")
	if err != nil {
		t.Fatal(err)
	}
	x = nn.Call(sm, x)
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{x})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	return m
}

// torchvisionOps is an ONNX graph with the ops PyTorch exports for
// torchvision's networks that goqat's own export does not write: a padded
// MaxPool with ceil_mode after a Relu, a Concat and a channel shuffle
// (Reshape, Transpose, Reshape), ReduceMean and a 1x1 Conv of its (N, C,
// 1, 1) output. A fuzz and mutation seed.
func torchvisionOps() ([]byte, error) { return Marshal(torchvisionOpsGraph()) }

// torchvisionOpsGraph is torchvisionOps's graph, input (N, 3, 7, 8).
func torchvisionOpsGraph() *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(13, 14))
	b := graphBuilder(3, 7, 8)
	x := b.op("Relu", "relu", []string{"x"})
	x = b.op("MaxPool", "pool", []string{x}, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 1, -1)...)
	x = b.op("Concat", "cat", []string{b.conv1x1(r, x, 3, 2), b.conv1x1(r, x, 3, 2)}, attrInt("axis", 1))
	x = b.shuffleOps(x, 4, 4, 5, 2)
	x = b.op("ReduceMean", "mean", []string{x}, attrInts("axes", 2, 3))
	x = b.op("Flatten", "flat", []string{b.conv1x1(r, x, 4, 3)}, attrInt("axis", 1))
	return b.finish(x)
}

// TestTorchvisionOpsSeed checks that the seed imports and computes ONNX's
// values. The shuffle reads the Concat's inputs, so the Concat itself,
// used by nothing else, is not in the model.
func TestTorchvisionOpsSeed(t *testing.T) {
	m := evalImport(t, torchvisionOpsGraph(), 3, 7, 8)
	if got, want := layerTypes(m), "ReLU ZeroPadding2D MaxPooling2D Conv2D Conv2D Reshape Reshape Concatenate Reshape "+
		"GlobalAveragePooling2D Dense"; got != want {
		t.Errorf("layers %q, want %q", got, want)
	}
}

// FuzzImport feeds arbitrary bytes to Unmarshal and Import: they must
// return an error or a model, never panic or allocate from unchecked
// sizes, and every imported model must export again. The seeds are real
// exported models (float and QDQ), torchvisionOps and mobilenetV3OpsGraph.
func FuzzImport(f *testing.F) {
	m := tinyModel(f)
	mp, err := ExportFloat(m)
	if err != nil {
		f.Fatal(err)
	}
	data, err := Marshal(mp)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	tv, err := torchvisionOps()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tv)
	v3, err := Marshal(mobilenetV3OpsGraph())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v3)
	fold, err := Marshal(foldOpsGraph())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fold)
	q, err := quantize.Model(m)
	if err != nil {
		f.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err == nil {
		if mp, err := ExportInteger(im); err == nil {
			if data, err := Marshal(mp); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := importAndExport(data); err != nil {
			t.Fatal(err)
		}
	})
}

// importAndExport decodes and imports data; a model that imports must
// export again (an error only for that).
func importAndExport(data []byte) error {
	mp, err := Unmarshal(data)
	if err != nil {
		return nil
	}
	m, err := Import(mp)
	if err != nil {
		return nil
	}
	if _, err := ExportFloat(m); err != nil {
		return fmt.Errorf("an imported model does not export: %w", err)
	}
	return nil
}

// TestImportMutations is a deterministic complement to FuzzImport: 1000
// (250 with -short) random byte mutations of real exported models (float,
// the fixture, torchvisionOps, mobilenetV3OpsGraph and foldOpsGraph) must
// import or fail cleanly, fast.
func TestImportMutations(t *testing.T) {
	m := tinyModel(t)
	mp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := torchvisionOps()
	if err != nil {
		t.Fatal(err)
	}
	v3, err := Marshal(mobilenetV3OpsGraph())
	if err != nil {
		t.Fatal(err)
	}
	fold, err := Marshal(foldOpsGraph())
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{seed, tv, v3, fold}
	if fx, err := os.ReadFile("testdata/fixture.onnx"); err == nil {
		seeds = append(seeds, fx)
	}
	r := rand.New(rand.NewPCG(1, 1))
	imported, n := 0, 1000
	if testing.Short() {
		n = 250
	}
	for i := 0; i < n; i++ {
		s := seeds[i%len(seeds)]
		d := append([]byte(nil), s...)
		for k := 0; k < 1+r.IntN(4); k++ {
			d[r.IntN(len(d))] = byte(r.IntN(256))
		}
		if err := importAndExport(d); err != nil {
			t.Fatalf("mutation %d: %v", i, err)
		}
		if mp, err := Unmarshal(d); err == nil {
			if _, err := Import(mp); err == nil {
				imported++
			}
		}
	}
	if imported == 0 {
		t.Error("no mutation imported: the mutations test nothing beyond the decoder")
	}
	t.Logf("%d of %d mutations imported", imported, n)
}

// TestTinyModelRoundTrip checks the fuzzer's seed model round trip too.
func TestTinyModelRoundTrip(t *testing.T) {
	m := tinyModel(t)
	perturbBN(m, 2)
	mp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	back := roundTrip(t, mp)
	r := tensor.New(5, 8, 8, 1)
	for i := range r.Data {
		r.Data[i] = float32(i%13)/6 - 1
	}
	want, err := m.Predict(t.Context(), r, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Predict(t.Context(), r, 5)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got.Data, want.Data); d > 1e-5 {
		t.Errorf("imported tiny model differs by %g", d)
	}
}
