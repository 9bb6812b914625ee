package nn

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestSummarySequential(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{28, 28, 1},
		NewConv2D(32, 3, 3), NewBatchNormalization(), NewReLU(), NewMaxPooling2D(2, 2),
		NewFlatten(), NewDense(128), NewReLU(), NewDense(10)))
	want := `Model: "sequential"
_______________________________________________________________________________
 Layer (type)                               Output Shape             Param #
===============================================================================
 conv2d (Conv2D)                            (None, 26, 26, 32)       320
 batch_normalization (BatchNormalization)   (None, 26, 26, 32)       128
 re_lu (ReLU)                               (None, 26, 26, 32)       0
 max_pooling2d (MaxPooling2D)               (None, 13, 13, 32)       0
 flatten (Flatten)                          (None, 5408)             0
 dense (Dense)                              (None, 128)              692,352
 re_lu_1 (ReLU)                             (None, 128)              0
 dense_1 (Dense)                            (None, 10)               1,290
===============================================================================
Total params: 694,090
Trainable params: 694,026
Non-trainable params: 64
_______________________________________________________________________________
`
	if got := m.Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryFunctional(t *testing.T) {
	m := fanOutModel(t)
	m.SetName("fan_out")
	want := `Model: "fan_out"
____________________________________________________________________________________
 Layer (type)                Output Shape             Param #   Connected to
====================================================================================
 input_1 (InputLayer)        (None, 6)                0         []
 dense (Dense)               (None, 5)                35        input_1[0][0]
 activation (Activation)     (None, 5)                0         dense[0][0]
 dense_1 (Dense)             (None, 5)                30        activation[0][0]
 dense_2 (Dense)             (None, 5)                30        activation[0][0]
 add (Add)                   (None, 5)                0         dense_1[0][0]
                                                                dense_2[0][0]
 concatenate (Concatenate)   (None, 10)               0         add[0][0]
                                                                activation[0][0]
 dense_3 (Dense)             (None, 3)                33        concatenate[0][0]
====================================================================================
Total params: 128
Trainable params: 128
Non-trainable params: 0
____________________________________________________________________________________
`
	if got := m.Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range strings.Split(m.Summary(), "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing space in %q", line)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 120234: "120,234", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
