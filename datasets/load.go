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
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mnist":
		if dir == "" {
			return MNIST()
		}
		return mnistFromDir(dir)
	case "fashion", "fashion-mnist":
		return FashionMNIST(dir)
	}
	return nil, nil, fmt.Errorf("unknown data set %q: want mnist, fashion or fashion-mnist", name)
}
