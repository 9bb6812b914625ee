package datasets

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goqat/goqat/internal/fileio"
	"github.com/goqat/goqat/tensor"
)

// CIFAR binary layout: each record is its label byte(s), then 1024 red,
// 1024 green and 1024 blue bytes of a 32x32 image, rows top to bottom.
const (
	cifarSide   = 32
	cifarPixels = cifarSide * cifarSide * 3
	// maxCIFARBytes bounds one CIFAR file: CIFAR-100's train.bin is 150 MB.
	maxCIFARBytes = 1 << 31
)

// cifar10Names are CIFAR-10's classes, label order (batches.meta.txt).
var cifar10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR reads the binary version of CIFAR-10 or CIFAR-100 from path: a
// folder (cifar-10-batches-bin with data_batch_1.bin .. data_batch_5.bin
// and test_batch.bin; cifar-100-binary with train.bin and test.bin) or one
// of those files (then test is nil). CIFAR-100 records carry a coarse and a
// fine label: fine (100 classes) unless coarse (20). Class names come from
// batches.meta.txt, fine_label_names.txt or coarse_label_names.txt beside
// the files if present, else CIFAR-10's known names or "0".."99".
// Images are (N,32,32,3) in [0,1].
func CIFAR(path string, coarse bool) (train, test *Dataset, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	dir, files := path, []string{path}
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	hundred := isCIFAR100(path)
	names, err := cifarNames(dir, hundred, coarse)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		d, err := readCIFAR(strings.TrimSuffix(filepath.Base(path), ".bin"), files, hundred, coarse, names)
		return d, nil, err
	}
	var trainFiles, testFiles []string
	if hundred {
		trainFiles, testFiles = []string{filepath.Join(path, "train.bin")}, []string{filepath.Join(path, "test.bin")}
	} else {
		for i := 1; i <= 5; i++ {
			trainFiles = append(trainFiles, filepath.Join(path, fmt.Sprintf("data_batch_%d.bin", i)))
		}
		testFiles = []string{filepath.Join(path, "test_batch.bin")}
	}
	set := "cifar-10"
	if hundred {
		set = "cifar-100"
	}
	if train, err = readCIFAR(set+"-train", trainFiles, hundred, coarse, names); err != nil {
		return nil, nil, err
	}
	if test, err = readCIFAR(set+"-test", testFiles, hundred, coarse, names); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// isCIFAR100 tells the CIFAR-100 layout (train.bin, test.bin) from
// CIFAR-10's (data_batch_N.bin, test_batch.bin) by the file names.
func isCIFAR100(path string) bool {
	base := filepath.Base(path)
	if base == "train.bin" || base == "test.bin" {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "train.bin"))
	return err == nil
}

// cifarNames reads the class names from the meta file beside the data, or
// falls back to the known or numbered names.
func cifarNames(dir string, hundred, coarse bool) ([]string, error) {
	meta, want, fallback := "batches.meta.txt", 10, cifar10Names
	if hundred {
		meta, want, fallback = "fine_label_names.txt", 100, numberedNames(100)
		if coarse {
			meta, want, fallback = "coarse_label_names.txt", 20, numberedNames(20)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, meta))
	if err != nil {
		return append([]string(nil), fallback...), nil
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) != want {
		return nil, fmt.Errorf("datasets: %s names %d classes, want %d", filepath.Join(dir, meta), len(names), want)
	}
	return names, nil
}

// readCIFAR reads the records of files into one Dataset named name.
func readCIFAR(name string, files []string, hundred, coarse bool, names []string) (*Dataset, error) {
	rec := int64(1 + cifarPixels)
	if hundred {
		rec++
	}
	var total int64
	sizes := make([]int64, len(files))
	for i, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("datasets: %w", err)
		}
		if st.Size() == 0 || st.Size()%rec != 0 || st.Size() > maxCIFARBytes {
			return nil, fmt.Errorf("datasets: %s: %d bytes is not a whole number of %d-byte CIFAR records (at most %d bytes)", p, st.Size(), rec, maxCIFARBytes)
		}
		sizes[i] = st.Size()
		total += st.Size() / rec
	}
	if total > MaxValues/cifarPixels {
		return nil, fmt.Errorf("datasets: %s: %d images are too many", name, total)
	}
	n := int(total)
	x := make([]float32, n*cifarPixels)
	y := make([]float32, n)
	buf := make([]byte, rec)
	k := 0
	for i, p := range files {
		f, _, err := fileio.OpenRegular(p)
		if err != nil {
			return nil, fmt.Errorf("datasets: %w", err)
		}
		br := bufio.NewReaderSize(f, 1<<20)
		for r := int64(0); r < sizes[i]/rec; r++ {
			if _, err := io.ReadFull(br, buf); err != nil {
				f.Close()
				return nil, fmt.Errorf("datasets: %s: record %d: %w", p, r, err)
			}
			label := buf[0]
			if hundred && !coarse {
				label = buf[1]
			}
			if int(label) >= len(names) {
				f.Close()
				return nil, fmt.Errorf("datasets: %s: record %d: label %d is out of range [0, %d]", p, r, label, len(names)-1)
			}
			y[k] = float32(label)
			px := buf[rec-cifarPixels:]
			o := x[k*cifarPixels : (k+1)*cifarPixels]
			const plane = cifarSide * cifarSide
			for j := range plane { // planar RGB -> HWC
				o[3*j], o[3*j+1], o[3*j+2] = pixelScale[px[j]], pixelScale[px[plane+j]], pixelScale[px[2*plane+j]]
			}
			k++
		}
		f.Close()
	}
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: tensor.Shape{n, cifarSide, cifarSide, 3}, Data: x},
		Y:          &tensor.Tensor{Shape: tensor.Shape{n}, Data: y},
		Classes:    len(names),
		ClassNames: append([]string(nil), names...),
	}, nil
}
