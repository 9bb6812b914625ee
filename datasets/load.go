package datasets

import (
	"fmt"
	"strings"
)

// Load returns the train and test splits of a data set by name, for command
// lines: "mnist" (the embedded copy, or the IDX files in dir if dir is not
// "") or "fashion" / "fashion-mnist" (FashionMNIST(dir)). Names are matched
// case-insensitively.
func Load(name string, dir string) (train, test *Dataset, err error) {
	return LoadFirst(name, dir, 0, 0)
}

// LoadFirst is Load returning only the first trainN training and testN test
// samples of each split (<= 0: all of it), which are all it decodes: a
// command that evaluates on 500 test images does not decompress and convert
// the 70,000 of MNIST (about 220 MB of float32). Past the samples read,
// the files are not checked (a truncated tail goes unnoticed).
func LoadFirst(name string, dir string, trainN, testN int) (train, test *Dataset, err error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mnist":
		if dir == "" {
			return mnistFirst(trainN, testN)
		}
		return mnistFromDirFirst(dir, trainN, testN)
	case "fashion", "fashion-mnist":
		return fashionFirst(dir, trainN, testN)
	}
	return nil, nil, fmt.Errorf("unknown data set %q: want mnist, fashion or fashion-mnist", name)
}
