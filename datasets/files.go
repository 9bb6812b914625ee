package datasets

import (
	"path/filepath"
	"strings"
)

// Files lists the files Load may read for the data set name and folder dir:
// each of the four IDX files of an MNIST-style set, plain and gzipped, in
// dir (for fashion, DefaultFashionDir if dir is ""). The embedded MNIST
// (mnist with dir "") reads no file: nil. A command uses the list to refuse
// an output path that is one of its inputs.
func Files(name, dir string) []string {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mnist":
		if dir == "" {
			return nil
		}
	case "fashion", "fashion-mnist":
		if dir == "" {
			dir = DefaultFashionDir
		}
	default:
		return nil
	}
	var out []string
	for _, base := range []string{trainImagesFile, trainLabelsFile, testImagesFile, testLabelsFile} {
		out = append(out, filepath.Join(dir, base), filepath.Join(dir, base+".gz"))
	}
	return out
}
