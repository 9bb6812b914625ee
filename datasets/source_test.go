package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// counting is a Dataset of n (1,1,1) examples whose value and label are
// their index.
func counting(n int) *Dataset {
	x, y := make([]float32, n), make([]float32, n)
	for i := range n {
		x[i], y[i] = float32(i), float32(i%3)
	}
	return &Dataset{Name: "c", X: &tensor.Tensor{Shape: tensor.Shape{n, 1, 1, 1}, Data: x},
		Y: &tensor.Tensor{Shape: tensor.Shape{n}, Data: y}, Classes: 3, ClassNames: []string{"a", "b", "c"}}
}

// TestSplit checks that a split is seeded (same seed, same split; another
// seed, another), covers every example once, keeps labels with their
// examples, and rejects impossible fractions.
func TestSplit(t *testing.T) {
	d := counting(50)
	tr, va, err := Split(d, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 40 || va.Len() != 10 || va.Name != "c-val" || tr.Name != "c-train" {
		t.Fatalf("sizes %d %d names %s %s", tr.Len(), va.Len(), tr.Name, va.Name)
	}
	var all []float32
	for _, s := range []*Dataset{tr, va} {
		for i, v := range s.X.Data {
			if s.Y.Data[i] != float32(int(v)%3) {
				t.Fatalf("example %v has label %v", v, s.Y.Data[i])
			}
		}
		all = append(all, s.X.Data...)
	}
	slices.Sort(all)
	if !slices.Equal(all, d.X.Data) {
		t.Error("the split does not hold every example exactly once")
	}
	if slices.Equal(va.X.Data, d.X.Data[:10]) {
		t.Error("the validation set is not shuffled")
	}
	_, va2, _ := Split(d, 0.2, 7)
	_, va3, _ := Split(d, 0.2, 8)
	if !slices.Equal(va.X.Data, va2.X.Data) || slices.Equal(va.X.Data, va3.X.Data) {
		t.Error("the split does not follow the seed")
	}
	for _, f := range []float64{0, 1, -0.5, 0.99999} {
		if _, _, err := Split(counting(3), f, 1); err == nil {
			t.Errorf("split %v of 3: no error", f)
		}
	}
}

// TestDatasetSource checks that a Dataset is a Source and Materialize
// copies it.
func TestDatasetSource(t *testing.T) {
	d := counting(5)
	var s Source = d
	m, err := Materialize("m", s, false, nil)
	if err != nil || !slices.Equal(m.X.Data, d.X.Data) || !slices.Equal(m.Y.Data, d.Y.Data) || !m.X.Shape.Equal(d.X.Shape) {
		t.Errorf("Materialize: %v %v", m, err)
	}
	if err := d.Read(5, make([]float32, 1)); err == nil {
		t.Error("Read(5) of 5: no error")
	}
}

// TestDetectKind checks the kinds recognised from paths and the one-line
// error for anything else.
func TestDetectKind(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]Kind{"a.csv": KindCSV, "b.NPZ": KindNumPy, "c.npy": KindNumPy, "data_batch_1.bin": KindCIFAR} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if k, err := DetectKind(p); k != want || err != nil {
			t.Errorf("%s: %q %v, want %q", name, k, err, want)
		}
	}
	if k, err := DetectKind(dir); k != KindCIFAR || err != nil {
		t.Errorf("folder with data_batch_1.bin: %q %v", k, err)
	}
	txt := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(txt, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, p := range []string{txt, empty, filepath.Join(empty, "missing")} {
		if _, err := DetectKind(p); err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error naming it", p, err)
		}
	}
	if _, _, err := Open(txt, Options{}); err == nil || !strings.Contains(err.Error(), "unrecognised") {
		t.Errorf("Open(%s): %v", txt, err)
	}
}
