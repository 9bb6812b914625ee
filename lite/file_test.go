package lite

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goqat/goqat/safetensors"
)

// tinyModel is a two-op full-integer model: a 3x3 Conv2D with wbits-bit
// weights and a bias, then a FullyConnected.
func tinyModel(wbits int) *Model {
	lim := int8(1<<(wbits-1) - 1)
	conv := Op{Type: OpConv2D, Name: "conv", Inputs: []int{0}, Output: 1, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
		Pad: [4]int{1, 1, 1, 1}, Activation: "relu", WeightShape: []int{3, 3, 2, 3}, WeightBits: wbits,
		WeightScales: []float32{0.1, 0.2, 0.05}, Bias: []int32{5, -7, 100000}}
	for i := 0; i < 54; i++ {
		conv.Weights = append(conv.Weights, int8(i%(2*int(lim)+1))-lim)
	}
	fc := Op{Type: OpFullyConnected, Name: "fc", Inputs: []int{2}, Output: 3, WeightShape: []int{48, 2}, WeightBits: 8,
		WeightScales: []float32{0.01}}
	for i := 0; i < 96; i++ {
		fc.Weights = append(fc.Weights, int8(i*37%255-127))
	}
	return &Model{Name: "tiny",
		Tensors: []Tensor{i8t("in", 0.5, -3, 4, 4, 2), i8t("conv", 0.25, -128, 4, 4, 3), i8t("flat", 0.25, -128, 48), i8t("fc", 0.1, 7, 2)},
		Ops:     []Op{conv, {Type: OpReshape, Name: "flat", Inputs: []int{1}, Output: 2}, fc},
		Inputs:  []int{0}, Outputs: []int{3}}
}

func TestPackBits(t *testing.T) {
	for bits := 2; bits <= 7; bits++ {
		lim := 1<<(bits-1) - 1
		var v []int8
		for i := 0; i < 37; i++ {
			v = append(v, int8(i%(2*lim+1)-lim))
		}
		p := packBits(v, bits)
		if len(p) != (37*bits+7)/8 {
			t.Fatalf("%d bits: %d bytes", bits, len(p))
		}
		if got := unpackBits(p, len(v), bits); !reflect.DeepEqual(got, v) {
			t.Fatalf("%d bits: unpacked %v, want %v", bits, got, v)
		}
	}
	// Two 4-bit values per byte, low nibble first; four 2-bit values.
	if p := packBits([]int8{-1, 3, 7, -7}, 4); !bytes.Equal(p, []byte{0x3f, 0x97}) {
		t.Fatalf("4-bit packing %x", p)
	}
	if p := packBits([]int8{1, -1, 0, 1}, 2); !bytes.Equal(p, []byte{0x4d}) {
		t.Fatalf("2-bit packing %x", p)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, bits := range []int{8, 4, 2} {
		m := tinyModel(bits)
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := Save(path, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("%d bits: loaded model differs:\n%+v\nwant\n%+v", bits, back, m)
		}
		f, err := safetensors.ReadFile(path, safetensors.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{8: "I8", 4: "U8", 2: "U8"}[bits]
		if w := f.Tensors["ops.0.weights"]; w.DType != want || len(w.Data) != (54*bits+7)/8 {
			t.Fatalf("%d-bit kernel stored as %s with %d bytes", bits, w.DType, len(w.Data))
		}
	}
}

// mutate saves the tiny model after changing it and returns Load's error.
func mutate(t *testing.T, change func(f *safetensors.File, m *Model)) error {
	t.Helper()
	m := tinyModel(4)
	f, err := encode(m)
	if err != nil {
		t.Fatal(err)
	}
	change(f, m)
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	return err
}

// remeta rewrites a file's metadata from a changed model.
func remeta(t *testing.T, f *safetensors.File, m *Model) {
	t.Helper()
	g, err := encodeUnchecked(m)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata = g
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, f *safetensors.File, m *Model)
		want   string
	}{
		{"wrong dtype", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Tensors["ops.0.weights"] = safetensors.I8([]int{27}, make([]int8, 27))
		}, `"ops.0.weights" is I8, want U8`},
		{"short kernel", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Tensors["ops.0.weights"] = safetensors.U8([]int{26}, make([]uint8, 26))
		}, "26 bytes, want 27"},
		{"missing kernel", func(t *testing.T, f *safetensors.File, m *Model) { delete(f.Tensors, "ops.2.weights") }, `"ops.2.weights" is missing`},
		{"extra tensor", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Tensors["junk"] = safetensors.I8([]int{1}, []int8{1})
		}, `unexpected tensor "junk"`},
		{"bias dtype", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Tensors["ops.0.bias"] = safetensors.F32([]int{3}, make([]float32, 3))
		}, `"ops.0.bias" is F32, want I32`},
		{"bias count", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Tensors["ops.0.bias"] = safetensors.I32([]int{2}, make([]int32, 2))
		}, "2 values, want 3"},
		{"zero scale", func(t *testing.T, f *safetensors.File, m *Model) { m.Tensors[1].Scale = 0; remeta(t, f, m) }, "scale 0 must be positive"},
		{"negative scale", func(t *testing.T, f *safetensors.File, m *Model) { m.Tensors[1].Scale = -1; remeta(t, f, m) }, "must be positive"},
		{"zero point", func(t *testing.T, f *safetensors.File, m *Model) { m.Tensors[0].ZeroPoint = 200; remeta(t, f, m) }, "zero point 200 outside"},
		{"weight scale", func(t *testing.T, f *safetensors.File, m *Model) { m.Ops[0].WeightScales[1] = 0; remeta(t, f, m) }, "weight scale 0"},
		{"shape mismatch", func(t *testing.T, f *safetensors.File, m *Model) { m.Tensors[3].Shape = []int{3}; remeta(t, f, m) }, "output shape (3,)"},
		{"unknown op", func(t *testing.T, f *safetensors.File, m *Model) { m.Ops[1].Type = "Gather"; remeta(t, f, m) }, `unknown op type "Gather"`},
		{"not an integer model", func(t *testing.T, f *safetensors.File, m *Model) { f.Metadata = nil }, "not an integer model"},
		{"unknown field", func(t *testing.T, f *safetensors.File, m *Model) {
			f.Metadata[MetadataKey] = strings.Replace(f.Metadata[MetadataKey], `"version"`, `"colour":1,"version"`, 1)
		}, "unknown field"},
	}
	for _, c := range cases {
		err := mutate(t, func(f *safetensors.File, m *Model) { c.change(t, f, m) })
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	// Truncated file.
	f, err := encode(tinyModel(8))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trunc.safetensors")
	if err := os.WriteFile(path, buf.Bytes()[:buf.Len()-10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated file: error %v, want one naming %s", err, path)
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must return a model
// that an interpreter accepts, or an error, never panic.
func FuzzLoad(f *testing.F) {
	for _, bits := range []int{8, 4} {
		st, err := encode(tinyModel(bits))
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
		m, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if _, err := NewInterpreter(m); err != nil {
			t.Fatalf("loaded model rejected by the interpreter: %v", err)
		}
	})
}
