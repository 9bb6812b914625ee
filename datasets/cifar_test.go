package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarRecords encodes n CIFAR records: label byte(s) (coarse then fine for
// CIFAR-100), then planar RGB where channel k of pixel j of image i is
// byte(i*7 + j + 3*k).
func cifarRecords(n int, labels func(i int) []byte) []byte {
	var b []byte
	for i := range n {
		b = append(b, labels(i)...)
		for k := range 3 {
			for j := range 1024 {
				b = append(b, byte(i*7+j+3*k))
			}
		}
	}
	return b
}

// TestCIFAR10 reads a CIFAR-10 folder of six small batches and checks the
// labels, names and the planar-to-HWC layout of every pixel.
func TestCIFAR10(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for b := 1; b <= 5; b++ {
		data := cifarRecords(2, func(i int) []byte { return []byte{byte(b + i)} })
		if err := os.WriteFile(filepath.Join(dir, "data_batch_"+string(rune('0'+b))+".bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "test_batch.bin"), cifarRecords(3, func(i int) []byte { return []byte{9} }), 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err := DetectKind(dir); k != KindCIFAR || err != nil {
		t.Fatalf("DetectKind = %q, %v", k, err)
	}
	train, test, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 10 || test.Len() != 3 || !train.X.Shape.Equal([]int{10, 32, 32, 3}) || train.ClassNames[0] != "airplane" {
		t.Fatalf("train %v, test %d, names %v", train.X.Shape, test.Len(), train.ClassNames)
	}
	if want := []float32{1, 2, 2, 3, 3, 4, 4, 5, 5, 6}; !slices.Equal(train.Y.Data, want) {
		t.Errorf("labels %v, want %v", train.Y.Data, want)
	}
	for i := range 2 {
		for j := range 1024 {
			for k := range 3 {
				if got, want := train.X.Data[(i*1024+j)*3+k], float32(byte(i*7+j+3*k))/255; got != want {
					t.Fatalf("image %d pixel %d channel %d = %v, want %v", i, j, k, got, want)
				}
			}
		}
	}
	one, none, err := Open(filepath.Join(dir, "test_batch.bin"), Options{})
	if err != nil || none != nil || one.Len() != 3 || one.Classes != 10 {
		t.Errorf("one file: %v %v", one, err)
	}
}

// TestCIFAR100 reads train.bin and test.bin with fine and coarse labels and
// names from fine_label_names.txt.
func TestCIFAR100(t *testing.T) {
	dir := t.TempDir()
	recs := cifarRecords(2, func(i int) []byte { return []byte{byte(3 + i), byte(90 + i)} })
	for _, f := range []string{"train.bin", "test.bin"} {
		if err := os.WriteFile(filepath.Join(dir, f), recs, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for i := range 100 {
		names = append(names, "c"+string(rune('A'+i%26))+string(rune('a'+i/26)))
	}
	if err := os.WriteFile(filepath.Join(dir, "fine_label_names.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	train, test, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if train.Classes != 100 || !slices.Equal(train.Y.Data, []float32{90, 91}) || test.Len() != 2 || train.ClassNames[90] != names[90] {
		t.Errorf("fine: %d classes, labels %v", train.Classes, train.Y.Data)
	}
	train, _, err = Open(dir, Options{LabelColumn: "coarse"})
	if err != nil || train.Classes != 20 || !slices.Equal(train.Y.Data, []float32{3, 4}) {
		t.Errorf("coarse: %v %v", train, err)
	}
	if _, _, err := Open(dir, Options{LabelColumn: "medium"}); err == nil {
		t.Error("labels medium: no error")
	}
	// Errors: a partial record, a label beyond the names.
	bad := filepath.Join(t.TempDir(), "train.bin")
	if err := os.WriteFile(bad, recs[:len(recs)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CIFAR(bad, false); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Errorf("partial record: %v", err)
	}
	bad10 := filepath.Join(t.TempDir(), "test_batch.bin")
	if err := os.WriteFile(bad10, cifarRecords(1, func(int) []byte { return []byte{10} }), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CIFAR(bad10, false); err == nil || !strings.Contains(err.Error(), "label 10 is out of range") {
		t.Errorf("label 10: %v", err)
	}
}

// TestIDXFolderAnySize reads an IDX folder of 5x3 images with 12 classes,
// beyond MNIST's 28x28 and 10.
func TestIDXFolderAnySize(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(trainImagesFile, encodeIDX(8, []uint32{2, 5, 3}, seq(30)))
	write(trainLabelsFile, encodeIDX(8, []uint32{2}, []byte{0, 11}))
	write(testImagesFile+".gz", gzipBytes(t, encodeIDX(8, []uint32{1, 5, 3}, seq(15))))
	write(testLabelsFile, encodeIDX(8, []uint32{1}, []byte{4}))
	train, test, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !train.X.Shape.Equal([]int{2, 5, 3, 1}) || train.Classes != 12 || test.Classes != 12 || train.ClassNames[11] != "11" {
		t.Errorf("train %v, %d classes", train.X.Shape, train.Classes)
	}
	if train.X.Data[29] != float32(seq(30)[29])/255 {
		t.Errorf("pixel 29 = %v", train.X.Data[29])
	}
	padded, _, err := Open(dir, Options{Height: 7, Width: 5})
	if err != nil || !padded.X.Shape.Equal([]int{2, 7, 5, 1}) || padded.X.Data[0] != 0 {
		t.Errorf("padded: %v %v", padded, err)
	}
	write(testImagesFile+".gz", gzipBytes(t, encodeIDX(8, []uint32{1, 3, 5}, seq(15))))
	if _, _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "images of") {
		t.Errorf("train and test of different sizes: %v", err)
	}
}
