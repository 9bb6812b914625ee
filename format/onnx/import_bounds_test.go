package onnx

import (
	"strings"
	"testing"
)

// TestImportRefusesUnboundedWork: a MaxPool or AveragePool whose window is
// 65,536 x 65,536 with 'same' pads imported into a model whose evaluation
// looped for hours (7 x 8 windows of 2^32 taps, almost all in the
// padding); Import now plans the model's work and refuses it
// (docs/RELIABILITY.md, Resource bounds).
func TestImportRefusesUnboundedWork(t *testing.T) {
	pads := []int64{32767, 32767, 32768, 32768} // 'same' for a 65,536 window on 7 x 8
	for _, op := range []string{"MaxPool", "AveragePool"} {
		mp := poolGraph(op, false, poolAttrs(65536, 1, pads, 0, 0)...)
		_, err := Import(mp)
		if err == nil || !strings.Contains(err.Error(), "operations per sample") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s 65536 x 65536: %v, want a one-line refusal of its work", op, err)
		}
	}
	// The same window over an image that it fits is cheap and imports.
	if _, err := Import(poolGraph("MaxPool", false, poolAttrs(7, 1, nil, 0, -1)...)); err != nil {
		t.Errorf("a 7 x 7 window: %v", err)
	}
}

// TestImportRefusesHugeActivations: a Pad of 65,536 on each side (the
// largest an attribute may ask) makes a 7 x 8 image 131,079 x 131,080: more
// than 2^28 values per sample, refused at the layer, before anything is
// allocated.
func TestImportRefusesHugeActivations(t *testing.T) {
	b := graphBuilder(3, 7, 8)
	pads := b.int64s("pads", []int{8}, []int64{0, 0, 65536, 65536, 0, 0, 65536, 65536})
	_, err := Import(b.finish(b.op("Pad", "pad", []string{"x", pads})))
	if err == nil || !strings.Contains(err.Error(), "more than 268435456 values") {
		t.Errorf("Pad of 65,536 on each side: %v, want a refusal", err)
	}
}
