package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kind is the kind of data a path holds, as Open recognises it.
type Kind string

// The kinds of data Open reads.
const (
	KindImageFolder Kind = "image folder"
	KindCSV         Kind = "CSV"
	KindNumPy       Kind = "NumPy"
	KindCIFAR       Kind = "CIFAR binary"
	KindIDX         Kind = "IDX"
)

// DetectKind recognises what path holds from its name and, for a folder,
// its files: a .csv file; a .npy or .npz file, or a folder with x.npy; a
// CIFAR .bin file, or a folder with data_batch_1.bin, test_batch.bin or
// train.bin; a folder with train-images-idx3-ubyte (gzipped or not); a
// folder with subfolders (one per class, of images). Anything else is an
// error.
func DetectKind(path string) (Kind, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("data %s: %w", path, err)
	}
	if !st.IsDir() {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			return KindCSV, nil
		case ".npy", ".npz":
			return KindNumPy, nil
		case ".bin":
			return KindCIFAR, nil
		}
		return "", fmt.Errorf("data %s: unrecognised file: want a .csv, .npy, .npz or CIFAR .bin file, or a folder", path)
	}
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(path, name))
		return err == nil
	}
	switch {
	case has("data_batch_1.bin") || has("test_batch.bin") || has("train.bin"):
		return KindCIFAR, nil
	case has(trainImagesFile) || has(trainImagesFile+".gz"):
		return KindIDX, nil
	case has("x.npy"):
		return KindNumPy, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("data %s: %w", path, err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			return KindImageFolder, nil
		}
	}
	return "", fmt.Errorf("data %s: unrecognised folder: want one subfolder of images per class, CIFAR .bin files, IDX files or x.npy and y.npy", path)
}

// Options configures Open. The zero value reads every source as it is.
type Options struct {
	// Height and Width, if not 0, are the image size: image folders are
	// resized to it, image arrays (NumPy, CIFAR, IDX) resized or padded.
	Height, Width int
	// Channels, if not 0, is the channel count of image folders (1 or 3;
	// 0 infers it); for arrays it must match theirs.
	Channels int
	// Fit is how images are brought to Height x Width: "" means FitCrop
	// for image folders and FitPad (zero padding, no scaling: PadTo) for
	// arrays.
	Fit Fit
	// LabelColumn is the CSV label column (name or index; "" the last) or,
	// for CIFAR-100, "coarse" or "fine" ("" fine).
	LabelColumn string
	// SkipBad leaves out unreadable images of an image folder (reported
	// to Warn) instead of failing.
	SkipBad bool
	// Warn, if not nil, is told of every image left out.
	Warn func(error)
	// MaxPixels bounds one image of an image folder (0: DefaultMaxPixels).
	MaxPixels int
}

// Open reads the data at path, its kind recognised by DetectKind, into
// memory: train, and test if the source has a test split of its own
// (CIFAR and IDX folders, .npz with x_test) or else nil.
func Open(path string, o Options) (train, test *Dataset, err error) {
	kind, err := DetectKind(path)
	if err != nil {
		return nil, nil, err
	}
	if o.LabelColumn != "" && kind != KindCSV && kind != KindCIFAR {
		return nil, nil, fmt.Errorf("data %s: a label column applies to CSV files (and coarse or fine to CIFAR-100), not to %s data", path, kind)
	}
	switch kind {
	case KindImageFolder:
		f, err := OpenImageFolder(path, ImageFolderOptions{Height: o.Height, Width: o.Width, Channels: o.Channels,
			Fit: o.Fit, MaxPixels: o.MaxPixels, SkipBad: o.SkipBad, Warn: o.Warn})
		if err != nil {
			return nil, nil, err
		}
		d, err := Materialize(filepath.Base(filepath.Clean(path)), f, o.SkipBad, o.Warn)
		return d, nil, err
	case KindCSV:
		train, err = CSV(path, o.LabelColumn)
	case KindNumPy:
		train, test, err = NumPy(path)
	case KindCIFAR:
		lc := strings.ToLower(o.LabelColumn)
		if lc != "" && lc != "coarse" && lc != "fine" {
			return nil, nil, fmt.Errorf("data %s: CIFAR labels %q: want coarse or fine", path, o.LabelColumn)
		}
		train, test, err = CIFAR(path, lc == "coarse")
	case KindIDX:
		train, test, err = IDXFolder(path)
	}
	if err != nil {
		return nil, nil, err
	}
	if train, err = shapeArrays(train, o); err != nil {
		return nil, nil, err
	}
	if test != nil {
		if test, err = shapeArrays(test, o); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// shapeArrays checks an array set against o's channels and brings its
// images to o's size.
func shapeArrays(d *Dataset, o Options) (*Dataset, error) {
	image := len(d.X.Shape) == 4
	if !image && (o.Height != 0 || o.Channels != 0) {
		return nil, fmt.Errorf("datasets: %s holds feature vectors %v, not images: a size or channel count does not apply", d.Name, d.X.Shape[1:])
	}
	if image && o.Channels != 0 && o.Channels != d.X.Shape[3] {
		return nil, fmt.Errorf("datasets: %s: the images have %d channel(s), not %d", d.Name, d.X.Shape[3], o.Channels)
	}
	if o.Height == 0 {
		return d, nil
	}
	fit := o.Fit
	if fit == "" {
		fit = FitPad
	}
	return Resize(d, o.Height, o.Width, fit)
}
