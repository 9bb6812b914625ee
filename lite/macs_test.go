package lite

import "testing"

// TestMultiplyAddsAndFamilies checks the per-op counts and family names
// on hand-made ops: a stem convolution, a 1x1 convolution, a grouped
// convolution, a stride-2 depthwise convolution with a depth multiplier,
// a fully-connected layer and an Add.
func TestMultiplyAddsAndFamilies(t *testing.T) {
	m := &Model{Name: "macs", Tensors: []Tensor{
		{Shape: []int{32, 32, 3}}, {Shape: []int{16, 16, 8}}, {Shape: []int{16, 16, 12}}, {Shape: []int{16, 16, 12}},
		{Shape: []int{8, 8, 24}}, {Shape: []int{10}}, {Shape: []int{16, 16, 12}}, {Shape: []int{1536}},
	}}
	m.Ops = []Op{
		{Type: OpConv2D, Inputs: []int{0}, Output: 1, Kernel: [2]int{7, 7}, Strides: [2]int{2, 2}, WeightShape: []int{7, 7, 3, 8}},
		{Type: OpConv2D, Inputs: []int{1}, Output: 2, Kernel: [2]int{1, 1}, Strides: [2]int{1, 1}, WeightShape: []int{1, 1, 8, 12}},
		{Type: OpConv2D, Inputs: []int{2}, Output: 3, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1}, Groups: 3, WeightShape: []int{3, 3, 4, 12}},
		{Type: OpDepthwiseConv2D, Inputs: []int{3}, Output: 4, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}, DepthMultiplier: 2},
		{Type: OpFullyConnected, Inputs: []int{7}, Output: 5, WeightShape: []int{1536, 10}},
		{Type: OpAdd, Inputs: []int{2, 3}, Output: 6},
	}
	want := []struct {
		macs   int64
		family string
	}{
		{16 * 16 * 7 * 7 * 3 * 8, "Conv2D 7x7 stem"},
		{16 * 16 * 8 * 12, "Conv2D 1x1"},
		{16 * 16 * 9 * 4 * 12, "Conv2D 3x3"},
		{8 * 8 * 24 * 9, "DepthwiseConv2D 3x3 s2"},
		{1536 * 10, "FullyConnected"},
		{0, "Add"},
	}
	for k, w := range want {
		if got := m.MultiplyAdds(k); got != w.macs {
			t.Errorf("op %d: %d multiply-adds, want %d", k, got, w.macs)
		}
		if got := m.OpFamily(k); got != w.family {
			t.Errorf("op %d: family %q, want %q", k, got, w.family)
		}
	}
	if m.MultiplyAdds(-1) != 0 || m.MultiplyAdds(len(m.Ops)) != 0 || m.OpFamily(99) != "" {
		t.Error("an index out of range counts")
	}
}
