package datasets

// DefaultFashionDir is where Debian's dataset-fashion-mnist package installs
// the Fashion-MNIST IDX files; FashionMNIST reads it when given "".
const DefaultFashionDir = "/usr/share/datasets/fashion-mnist"

// fashionNames are the Fashion-MNIST class names, label order.
var fashionNames = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// fashionHint ends the error for missing Fashion-MNIST files.
const fashionHint = " (install it with: apt-get install dataset-fashion-mnist)"

// FashionMNIST reads Zalando's Fashion-MNIST from folder dir
// (DefaultFashionDir if dir is ""): the files train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each gzipped (".gz", preferred) or plain. It returns 60,000 training and
// 10,000 test images, (N,28,28,1) in [0,1], and ten named classes. The
// result is not cached; the caller owns it.
func FashionMNIST(dir string) (train, test *Dataset, err error) {
	return fashionFirst(dir, 0, 0)
}

// fashionFirst is FashionMNIST reading only the first trainN training and
// testN test images (<= 0: all).
func fashionFirst(dir string, trainN, testN int) (train, test *Dataset, err error) {
	if dir == "" {
		dir = DefaultFashionDir
	}
	open, err := dirOpener("fashion-mnist", dir, fashionHint)
	if err != nil {
		return nil, nil, err
	}
	return loadSetFirst("fashion-mnist", fashionNames, open, trainN, testN)
}
