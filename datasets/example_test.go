package datasets_test

import (
	"bytes"
	"fmt"

	"github.com/goqat/goqat/datasets"
)

func ExampleMNIST() {
	train, test, err := datasets.MNIST()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(train.Name, train.X.Shape, train.Y.Shape, train.Y.Data[:5])
	fmt.Println(test.Name, test.X.Shape, test.Classes)
	small := train.Take(1000) // views, no copy
	fmt.Println(small.Len())
	// Output:
	// mnist-train (60000, 28, 28, 1) (60000,) [5 0 4 1 9]
	// mnist-test (10000, 28, 28, 1) 10
	// 1000
}

func ExampleReadIDX() {
	// Two 1x3 images: magic 0x00000803, dimensions 2, 1, 3, then the pixels.
	file := []byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 10, 20, 30, 40, 50, 60}
	idx, err := datasets.ReadIDX(bytes.NewReader(file), 0)
	fmt.Println(idx.Dims, idx.Data, err)
	_, err = datasets.ReadIDX(bytes.NewReader(file[:20]), 0)
	fmt.Println(err)
	// Output:
	// [2 1 3] [10 20 30 40 50 60] <nil>
	// idx: truncated: want 6 bytes of data, got 4
}
