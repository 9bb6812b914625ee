package datasets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/goqat/goqat/internal/fileio"
)

// The four files of an MNIST-style set, without the optional ".gz".
const (
	trainImagesFile = "train-images-idx3-ubyte"
	trainLabelsFile = "train-labels-idx1-ubyte"
	testImagesFile  = "t10k-images-idx3-ubyte"
	testLabelsFile  = "t10k-labels-idx1-ubyte"
)

// imageSide is the height and width of MNIST and Fashion-MNIST images.
const imageSide = 28

// opener opens one of the four files by its base name (no ".gz") and returns
// it with the path to show in errors. Its errors are complete messages.
type opener func(base string) (rc io.ReadCloser, path string, err error)

// loadSet reads an MNIST-style set (one-byte images and labels) through
// open, the train and test splits concurrently. set names it in errors and
// in the Dataset names ("<set>-train", "<set>-test"). With classNames (MNIST,
// Fashion-MNIST) the images must be 28x28 and the labels index classNames;
// with nil classNames (a generic IDX folder) the images are (N,H,W) or
// (N,H,W,C) of any size, the same for both splits, and the classes are
// "0".."K-1", K one more than the largest label of either split.
func loadSet(set string, classNames []string, open opener) (train, test *Dataset, err error) {
	return loadSetFirst(set, classNames, open, 0, 0)
}

// loadSetFirst is loadSet reading only the first trainN training and testN
// test samples (<= 0: all). With nil classNames the classes are counted
// from the labels read.
func loadSetFirst(set string, classNames []string, open opener, trainN, testN int) (train, test *Dataset, err error) {
	var wg sync.WaitGroup
	var tr, te *idxSplit
	var errTrain, errTest error
	wg.Add(2)
	go func() {
		defer wg.Done()
		tr, errTrain = readSplit(set, set+"-train", trainImagesFile, trainLabelsFile, classNames == nil, open, trainN)
	}()
	go func() {
		defer wg.Done()
		te, errTest = readSplit(set, set+"-test", testImagesFile, testLabelsFile, classNames == nil, open, testN)
	}()
	wg.Wait()
	if errTrain != nil {
		return nil, nil, errTrain
	}
	if errTest != nil {
		return nil, nil, errTest
	}
	if classNames == nil {
		if !slices.Equal(tr.images.Dims[1:], te.images.Dims[1:]) {
			return nil, nil, fmt.Errorf("%s: %s holds images of %v but %s holds images of %v", set,
				tr.imagesPath, tr.images.Dims[1:], te.imagesPath, te.images.Dims[1:])
		}
		classNames = numberedNames(int(max(maxByte(tr.labels.Data), maxByte(te.labels.Data))) + 1)
	}
	if train, err = tr.dataset(set, classNames); err != nil {
		return nil, nil, err
	}
	if test, err = te.dataset(set, classNames); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// idxSplit is one split's decoded images and labels, checked against each
// other.
type idxSplit struct {
	name                   string
	images, labels         *IDX
	imagesPath, labelsPath string
}

// readSplit reads one split's images and labels and checks their shapes:
// (N,28,28) images unless anySize, then (N,H,W) or (N,H,W,C); (N) labels.
// first > 0 reads only the first samples of each file.
func readSplit(set, name, imagesBase, labelsBase string, anySize bool, open opener, first int) (*idxSplit, error) {
	images, imagesPath, err := readIDXFile(set, open, imagesBase, first)
	if err != nil {
		return nil, err
	}
	labels, labelsPath, err := readIDXFile(set, open, labelsBase, first)
	if err != nil {
		return nil, err
	}
	d := images.Dims
	if anySize {
		if len(d) != 3 && len(d) != 4 {
			return nil, fmt.Errorf("%s: %s: images have dimensions %v, want (N, H, W) or (N, H, W, C)", set, imagesPath, d)
		}
	} else if len(d) != 3 || d[1] != imageSide || d[2] != imageSide {
		return nil, fmt.Errorf("%s: %s: images have dimensions %v, want (N, %d, %d)", set, imagesPath, d, imageSide, imageSide)
	}
	if d := labels.Dims; len(d) != 1 {
		return nil, fmt.Errorf("%s: %s: labels have dimensions %v, want (N)", set, labelsPath, d)
	}
	if images.Dims[0] == 0 {
		return nil, fmt.Errorf("%s: %s holds no images (an empty set cannot train or evaluate anything)", set, imagesPath)
	}
	if images.Dims[0] != labels.Dims[0] {
		return nil, fmt.Errorf("%s: %s has %d images but %s has %d labels", set, imagesPath, images.Dims[0], labelsPath, labels.Dims[0])
	}
	return &idxSplit{name: name, images: images, labels: labels, imagesPath: imagesPath, labelsPath: labelsPath}, nil
}

// dataset checks the labels against classNames and converts the split.
func (s *idxSplit) dataset(set string, classNames []string) (*Dataset, error) {
	for i, l := range s.labels.Data {
		if int(l) >= len(classNames) {
			return nil, fmt.Errorf("%s: %s: label %d of sample %d is out of range [0, %d]", set, s.labelsPath, l, i, len(classNames)-1)
		}
	}
	ds, err := FromIDX(s.name, s.images, s.labels, classNames)
	if err != nil {
		return nil, fmt.Errorf("%s: %s, %s: %w", set, s.imagesPath, s.labelsPath, err)
	}
	return ds, nil
}

// maxByte is the largest value of b (0 if b is empty).
func maxByte(b []byte) byte {
	var m byte
	for _, v := range b {
		m = max(m, v)
	}
	return m
}

// numberedNames returns the class names "0".."k-1".
func numberedNames(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// readIDXFile opens base and decodes it (the first records only if first >
// 0), naming the set and file in errors.
func readIDXFile(set string, open opener, base string, first int) (*IDX, string, error) {
	rc, path, err := open(base)
	if err != nil {
		return nil, path, err
	}
	defer rc.Close()
	idx, err := readIDXFirst(rc, DefaultMaxIDXBytes, first)
	if err != nil {
		return nil, path, fmt.Errorf("%s: %s: %w", set, path, err)
	}
	return idx, path, nil
}

// dirOpener opens the four files from folder dir, each as base+".gz" or, if
// that is absent, base. set names the data set and hint is appended to
// not-found errors.
func dirOpener(set, dir, hint string) (opener, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: folder %s not found%s", set, dir, hint)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", set, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a folder", set, dir)
	}
	return func(base string) (io.ReadCloser, string, error) {
		for _, name := range []string{base + ".gz", base} {
			path := filepath.Join(dir, name)
			f, _, err := fileio.OpenRegular(path)
			if err == nil {
				return f, path, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, path, fmt.Errorf("%s: %w", set, err)
			}
		}
		return nil, dir, fmt.Errorf("%s: folder %s has no %s.gz or %s%s", set, dir, base, base, hint)
	}, nil
}

// IDXFolder reads a set in the MNIST file layout from folder dir (the four
// files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzipped or plain)
// with images of any size, (N,H,W) or (N,H,W,C) bytes, and any number of
// classes up to 256: "0".."K-1", K one more than the largest label.
func IDXFolder(dir string) (train, test *Dataset, err error) {
	set := filepath.Base(filepath.Clean(dir))
	open, err := dirOpener(set, dir, " (want the four IDX files of the MNIST layout, gzipped or not)")
	if err != nil {
		return nil, nil, err
	}
	return loadSet(set, nil, open)
}
