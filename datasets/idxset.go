package datasets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// loadSet reads an MNIST-style set (28x28 images, one-byte labels) through
// open, the train and test splits concurrently. set names it in errors and
// in the Dataset names ("<set>-train", "<set>-test").
func loadSet(set string, classNames []string, open opener) (train, test *Dataset, err error) {
	var wg sync.WaitGroup
	var errTrain, errTest error
	wg.Add(2)
	go func() {
		defer wg.Done()
		train, errTrain = loadSplit(set, set+"-train", trainImagesFile, trainLabelsFile, classNames, open)
	}()
	go func() {
		defer wg.Done()
		test, errTest = loadSplit(set, set+"-test", testImagesFile, testLabelsFile, classNames, open)
	}()
	wg.Wait()
	if errTrain != nil {
		return nil, nil, errTrain
	}
	if errTest != nil {
		return nil, nil, errTest
	}
	return train, test, nil
}

// loadSplit reads one split's images and labels, checks them against each
// other, and converts them to a Dataset.
func loadSplit(set, name, imagesBase, labelsBase string, classNames []string, open opener) (*Dataset, error) {
	images, imagesPath, err := readIDXFile(set, open, imagesBase)
	if err != nil {
		return nil, err
	}
	labels, labelsPath, err := readIDXFile(set, open, labelsBase)
	if err != nil {
		return nil, err
	}
	if d := images.Dims; len(d) != 3 || d[1] != imageSide || d[2] != imageSide {
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
	for i, l := range labels.Data {
		if int(l) >= len(classNames) {
			return nil, fmt.Errorf("%s: %s: label %d of sample %d is out of range [0, %d]", set, labelsPath, l, i, len(classNames)-1)
		}
	}
	ds, err := FromIDX(name, images, labels, classNames)
	if err != nil {
		return nil, fmt.Errorf("%s: %s, %s: %w", set, imagesPath, labelsPath, err)
	}
	return ds, nil
}

// readIDXFile opens base and decodes it, naming the set and file in errors.
func readIDXFile(set string, open opener, base string) (*IDX, string, error) {
	rc, path, err := open(base)
	if err != nil {
		return nil, path, err
	}
	defer rc.Close()
	idx, err := ReadIDX(rc, DefaultMaxIDXBytes)
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
