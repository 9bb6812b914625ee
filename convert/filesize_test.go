package convert

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// TestFileSizeMNISTCNN checks that the mnist-cnn integer file is at most
// 0.26x the float file (8-bit), and that W4A8 is smaller still.
func TestFileSizeMNISTCNN(t *testing.T) {
	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	x := train.X.Batch(0, 32)
	fm, err := models.Build("mnist-cnn", x.Shape[1:], train.Classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, fm); err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, sc := range []quantize.NBit{quantize.Default8Bit, {WeightBits: 4, ActivationBits: 8, PerAxis: true}} {
		qm, err := quantize.Model(fm, quantize.WithScheme(sc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := qm.Forward(&nn.Context{Training: true}, x); err != nil { // records the ranges
			t.Fatal(err)
		}
		im, err := Convert(qm)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, sc.String()+".safetensors")
		if err := lite.Save(p, im); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, size(p))
	}
	ratio := float64(sizes[0]) / float64(size(fp))
	t.Logf("float %d bytes, int8 %d (%.3fx), w4a8 %d (%.3fx)", size(fp), sizes[0], ratio, sizes[1], float64(sizes[1])/float64(size(fp)))
	if ratio > 0.26 {
		t.Errorf("int8 file is %.3fx the float file, want <= 0.26x", ratio)
	}
	if sizes[1] >= sizes[0] {
		t.Errorf("w4a8 file %d bytes, not smaller than the int8 file %d", sizes[1], sizes[0])
	}
}
