package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// setSpec describes a small hand-made MNIST-style set for writeSet.
type setSpec struct {
	trainN, testN int
	gzip          int    // 0: all plain, 1: all gzipped, 2: train gzipped, test plain
	side          int    // image height and width; 0 means 28
	trainLabels   int    // number of train labels; 0 means trainN
	badLabel      bool   // the last test label is 10
	omit          string // a file (base name) not to write
	truncate      string // a file (base name) to cut short by one byte
}

// pixel is the value of pixel j of image i in writeSet's files.
func pixel(i, j int) byte { return byte(i*31 + j) }

// writeSet writes the four IDX files of s into dir and returns dir.
func writeSet(t *testing.T, dir string, s setSpec) string {
	t.Helper()
	side := s.side
	if side == 0 {
		side = 28
	}
	images := func(n int) []byte {
		b := make([]byte, n*side*side)
		for i := range n {
			for j := range side * side {
				b[i*side*side+j] = pixel(i, j)
			}
		}
		return encodeIDX(0x08, []uint32{uint32(n), uint32(side), uint32(side)}, b)
	}
	labels := func(n, shift int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte((i + shift) % 10)
		}
		return encodeIDX(0x08, []uint32{uint32(n)}, b)
	}
	trainLabels := s.trainLabels
	if trainLabels == 0 {
		trainLabels = s.trainN
	}
	testLabels := labels(s.testN, 5)
	if s.badLabel {
		testLabels[len(testLabels)-1] = 10
	}
	files := []struct {
		base string
		data []byte
		gz   bool
	}{
		{trainImagesFile, images(s.trainN), s.gzip >= 1},
		{trainLabelsFile, labels(trainLabels, 0), s.gzip >= 1},
		{testImagesFile, images(s.testN), s.gzip == 1},
		{testLabelsFile, testLabels, s.gzip == 1},
	}
	for _, f := range files {
		if f.base == s.omit {
			continue
		}
		data, name := f.data, f.base
		if f.base == s.truncate {
			data = data[:len(data)-1]
		}
		if f.gz {
			data, name = gzipBytes(t, data), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFashionMNISTHandMade(t *testing.T) {
	for mode := range 3 {
		dir := writeSet(t, t.TempDir(), setSpec{trainN: 3, testN: 2, gzip: mode})
		train, test, err := FashionMNIST(dir)
		if err != nil {
			t.Fatalf("gzip mode %d: %v", mode, err)
		}
		if train.Len() != 3 || test.Len() != 2 || !train.X.Shape.Equal([]int{3, 28, 28, 1}) {
			t.Fatalf("gzip mode %d: lens %d, %d, shape %v", mode, train.Len(), test.Len(), train.X.Shape)
		}
		if train.Name != "fashion-mnist-train" || test.Name != "fashion-mnist-test" || train.Classes != 10 ||
			train.ClassNames[0] != "T-shirt/top" || train.ClassNames[9] != "Ankle boot" {
			t.Errorf("names %q %q, classes %d %v", train.Name, test.Name, train.Classes, train.ClassNames)
		}
		if !slices.Equal(train.Y.Data, []float32{0, 1, 2}) || !slices.Equal(test.Y.Data, []float32{5, 6}) {
			t.Errorf("labels %v %v", train.Y.Data, test.Y.Data)
		}
		for _, c := range [][2]int{{0, 0}, {1, 5}, {2, 783}} {
			if got, want := train.X.Data[c[0]*784+c[1]], float32(pixel(c[0], c[1]))/255; got != want {
				t.Errorf("pixel %d of image %d = %v, want %v", c[1], c[0], got, want)
			}
		}
	}
}

func TestFashionMNISTErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	_, _, err := FashionMNIST(missing)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing folder: error %v", err)
	}

	cases := []struct {
		name string
		spec setSpec
		want []string // substrings of the error
	}{
		{"missing file", setSpec{trainN: 3, testN: 2, omit: testLabelsFile},
			[]string{"no t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte", "apt-get install dataset-fashion-mnist"}},
		{"count mismatch", setSpec{trainN: 3, testN: 2, trainLabels: 4, gzip: 1},
			[]string{"train-images-idx3-ubyte.gz has 3 images but", "train-labels-idx1-ubyte.gz has 4 labels"}},
		{"label 10", setSpec{trainN: 3, testN: 2},
			[]string{"t10k-labels-idx1-ubyte: label 10 of sample 1 is out of range [0, 9]"}},
		{"truncated", setSpec{trainN: 3, testN: 2, gzip: 2, truncate: trainImagesFile},
			[]string{"train-images-idx3-ubyte.gz: idx: truncated: want 2352 bytes of data, got 2351"}},
		{"empty test set", setSpec{trainN: 3, testN: 0},
			[]string{"t10k-images-idx3-ubyte holds no images"}},
		{"empty train set", setSpec{trainN: 0, testN: 2, gzip: 1},
			[]string{"train-images-idx3-ubyte.gz holds no images"}},
		{"wrong image size", setSpec{trainN: 3, testN: 2, side: 27},
			[]string{"train-images-idx3-ubyte: images have dimensions [3 27 27], want (N, 28, 28)"}},
	}
	for _, c := range cases {
		c.spec.badLabel = c.name == "label 10"
		dir := writeSet(t, t.TempDir(), c.spec)
		_, _, err := FashionMNIST(dir)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "fashion-mnist: ") || !strings.Contains(msg, dir) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q does not start with fashion-mnist: and name the folder on one line", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q, want it to contain %q", c.name, msg, w)
			}
		}
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FashionMNIST(file); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("a file as folder: error %v", err)
	}
}

func TestFashionMNISTInstalled(t *testing.T) {
	if _, err := os.Stat(filepath.Join(DefaultFashionDir, trainImagesFile+".gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed in %s (apt-get install dataset-fashion-mnist)", DefaultFashionDir)
	}
	train, test, err := FashionMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 || !train.X.Shape.Equal([]int{60000, 28, 28, 1}) {
		t.Fatalf("sizes %d, %d, shape %v", train.Len(), test.Len(), train.X.Shape)
	}
	if got := train.Y.Data[:10]; !slices.Equal(got, []float32{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}) {
		t.Errorf("first train labels %v", got)
	}
	for _, c := range []struct {
		d    *Dataset
		want int
	}{{train, 6000}, {test, 1000}} {
		for k, n := range histogram(c.d) {
			if n != c.want {
				t.Errorf("%s: class %d has %d samples, want %d", c.d.Name, k, n, c.want)
			}
		}
		checkPixels(t, c.d)
	}
}
