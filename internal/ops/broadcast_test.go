package ops

import (
	"slices"
	"testing"
)

func TestBroadcastShape(t *testing.T) {
	for _, c := range []struct{ a, b, want []int }{
		{[]int{4, 5, 3}, []int{1, 1, 3}, []int{4, 5, 3}},
		{[]int{1, 1, 3}, []int{4, 5, 3}, []int{4, 5, 3}},
		{[]int{4, 5, 3}, []int{3}, []int{4, 5, 3}},
		{[]int{4, 1, 3}, []int{5, 1}, []int{4, 5, 3}},
		{[]int{2, 3}, []int{2, 3}, []int{2, 3}},
	} {
		got, err := BroadcastShape(c.a, c.b)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("BroadcastShape(%v, %v) = %v, %v, want %v", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := BroadcastShape([]int{4, 5, 3}, []int{1, 1, 2}); err == nil {
		t.Error("(4,5,3) with (1,1,2): no error")
	}
}

// TestBroadcastIndex compares the index map with the position arithmetic
// written out for a (2,3,4) output.
func TestBroadcastIndex(t *testing.T) {
	out := []int{2, 3, 4}
	if BroadcastIndex([]int{2, 3, 4}, out) != nil {
		t.Error("same shape: want nil (identity)")
	}
	for _, in := range [][]int{{1, 1, 4}, {4}, {2, 1, 4}, {3, 1}, {2, 3, 1}, {1}} {
		idx := BroadcastIndex(in, out)
		full := append(make([]int, 3-len(in)), in...)
		for i := range 3 - len(in) {
			full[i] = 1
		}
		j := 0
		for a := 0; a < 2; a++ {
			for b := 0; b < 3; b++ {
				for c := 0; c < 4; c++ {
					p := [3]int{a, b, c}
					want := 0
					for d := 0; d < 3; d++ {
						if full[d] != 1 {
							want = want*full[d] + p[d]
						}
					}
					if int(idx[j]) != want {
						t.Fatalf("in %v: index of (%d,%d,%d) = %d, want %d", in, a, b, c, idx[j], want)
					}
					j++
				}
			}
		}
	}
}
