package datasets

import (
	"slices"
	"strings"
	"testing"
)

// histogram counts the labels of d per class.
func histogram(d *Dataset) []int {
	h := make([]int, d.Classes)
	for _, y := range d.Y.Data {
		h[int(y)]++
	}
	return h
}

// checkPixels checks that every pixel is in [0,1] and both ends occur.
func checkPixels(t *testing.T, d *Dataset) {
	t.Helper()
	lo, hi := d.X.Data[0], d.X.Data[0]
	for _, v := range d.X.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("%s: pixels in [%v, %v], want [0, 1]", d.Name, lo, hi)
	}
}

func TestMNIST(t *testing.T) {
	train, test, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("sizes %d, %d, want 60000, 10000", train.Len(), test.Len())
	}
	if !train.X.Shape.Equal([]int{60000, 28, 28, 1}) || !test.X.Shape.Equal([]int{10000, 28, 28, 1}) {
		t.Errorf("shapes %v, %v", train.X.Shape, test.X.Shape)
	}
	if train.Name != "mnist-train" || test.Name != "mnist-test" || train.Classes != 10 || train.ClassNames[7] != "7" {
		t.Errorf("names %q %q, classes %d %v", train.Name, test.Name, train.Classes, train.ClassNames)
	}
	if got := train.Y.Data[:10]; !slices.Equal(got, []float32{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}) {
		t.Errorf("first train labels %v", got)
	}
	if got := test.Y.Data[:10]; !slices.Equal(got, []float32{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}) {
		t.Errorf("first test labels %v", got)
	}
	checkPixels(t, train)
	checkPixels(t, test)
	// The published class counts of MNIST.
	if h := histogram(train); !slices.Equal(h, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}) {
		t.Errorf("train label histogram %v", h)
	}
	if h := histogram(test); !slices.Equal(h, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}) {
		t.Errorf("test label histogram %v", h)
	}
	// The first training image (a 5) has some ink, not a blank or a block.
	var ink float32
	for _, v := range train.X.Data[:784] {
		ink += v
	}
	if ink < 50 || ink > 150 {
		t.Errorf("first image has total ink %v, want a digit's worth", ink)
	}

	// A second call is served from the cache with fresh headers.
	train2, _, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	if train2 == train || train2.X == train.X || &train2.X.Data[0] != &train.X.Data[0] {
		t.Error("second call: want new headers over the same cached data")
	}
	train2.X.Shape[0], train2.ClassNames[0] = 1, "zero"
	if train.X.Shape[0] != 60000 || train.ClassNames[0] != "0" {
		t.Error("headers of two calls share memory")
	}
}

func TestLoad(t *testing.T) {
	for _, name := range []string{"mnist", "MNIST"} {
		train, test, err := Load(name, "")
		if err != nil || train.Len() != 60000 || test.Len() != 10000 {
			t.Errorf("Load(%q): %v", name, err)
		}
	}
	dir := writeSet(t, t.TempDir(), setSpec{trainN: 3, testN: 2})
	for _, name := range []string{"fashion", "fashion-mnist", "mnist"} {
		train, test, err := Load(name, dir)
		if err != nil {
			t.Fatalf("Load(%q, dir): %v", name, err)
		}
		prefix := strings.TrimSuffix(name, "-mnist")
		if prefix == "fashion" {
			prefix = "fashion-mnist"
		}
		if train.Len() != 3 || test.Len() != 2 || train.Name != prefix+"-train" {
			t.Errorf("Load(%q, dir): %s len %d, %d", name, train.Name, train.Len(), test.Len())
		}
	}
	_, _, err := Load("cifar", "")
	if err == nil || !strings.Contains(err.Error(), `"cifar"`) || !strings.Contains(err.Error(), "mnist, fashion or fashion-mnist") {
		t.Errorf("unknown name: error %v", err)
	}
}

func BenchmarkMNISTDecode(b *testing.B) {
	for b.Loop() {
		if _, _, err := decodeMNIST(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(70000*b.N)/b.Elapsed().Seconds(), "images/s")
}

// TestLoadFirst checks that LoadFirst returns exactly the first samples of
// what Load returns, embedded and from files (gzipped and plain), and that
// it reads no further: a file whose tail is cut short still gives its
// first samples, while Load refuses it.
func TestLoadFirst(t *testing.T) {
	same := func(what string, got, all *Dataset, n int) {
		t.Helper()
		want := all.Take(n)
		if got.Len() != n || got.Name != all.Name || !slices.Equal(got.X.Data, want.X.Data) ||
			!slices.Equal(got.Y.Data, want.Y.Data) || !slices.Equal(got.ClassNames, all.ClassNames) {
			t.Errorf("%s: %d samples %q, want the first %d of %q", what, got.Len(), got.Name, n, all.Name)
		}
	}
	train, test, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	ftrain, ftest, err := LoadFirst("mnist", "", 37, 5)
	if err != nil {
		t.Fatal(err)
	}
	same("embedded train", ftrain, train, 37)
	same("embedded test", ftest, test, 5)
	if a, b, err := LoadFirst("mnist", "", 0, 5); err != nil || a.Len() != 60000 || b.Len() != 10000 {
		t.Errorf("LoadFirst(mnist, 0, 5): %v (0 means the whole split)", err)
	}
	for _, gz := range []int{0, 1} {
		dir := writeSet(t, t.TempDir(), setSpec{trainN: 9, testN: 4, gzip: gz, truncate: trainImagesFile})
		if _, _, err := Load("fashion", dir); err == nil {
			t.Fatalf("gzip %d: a truncated file loads whole", gz)
		}
		dtrain, dtest, err := LoadFirst("fashion", dir, 3, 2)
		if err != nil {
			t.Fatalf("gzip %d: %v", gz, err)
		}
		whole := writeSet(t, t.TempDir(), setSpec{trainN: 9, testN: 4, gzip: gz})
		atrain, atest, err := Load("fashion", whole)
		if err != nil {
			t.Fatal(err)
		}
		same("fashion train", dtrain, atrain, 3)
		same("fashion test", dtest, atest, 2)
		if a, b, err := LoadFirst("mnist", whole, 100, 100); err != nil || a.Len() != 9 || b.Len() != 4 {
			t.Errorf("gzip %d: limits above the counts: %v", gz, err)
		}
	}
}
