package ops

import "fmt"

// BroadcastShape returns the per-sample shape of an element-wise op on
// inputs of per-sample shapes a and b (the batch left out, and equal)
// broadcast as NumPy and Keras's merge layers do: the shorter shape gets
// leading 1s (Keras inserts the axes after the batch), then in every
// dimension the sizes must be equal or one of them 1, which is repeated.
// (H,W,C) with (1,1,C) or (C) gives (H,W,C).
func BroadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range out {
		da, db := dimFromEnd(a, n-1-i), dimFromEnd(b, n-1-i)
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dimension %d: %d and %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

// dimFromEnd returns s's k-th dimension from the end, 1 beyond its rank.
func dimFromEnd(s []int, k int) int {
	if k >= len(s) {
		return 1
	}
	return s[len(s)-1-k]
}

// BroadcastIndex returns, for every element of a per-sample tensor of
// shape out (row-major), the index of the element of a per-sample input of
// shape in that it reads once in is broadcast to out (in must broadcast to
// out: BroadcastShape(in, out) is out); nil when in has out's size (the
// identity).
// in (...) broadcast to out (...) -> index (out.Size())
func BroadcastIndex(in, out []int) []int32 {
	size := 1
	for _, d := range out {
		size *= d
	}
	inSize := 1
	for _, d := range in {
		inSize *= d
	}
	if inSize == size {
		return nil
	}
	// strides[i]: the input's stride along output dimension i, 0 where
	// the input is broadcast.
	strides := make([]int, len(out))
	st := 1
	for i := len(out) - 1; i >= 0; i-- {
		if d := dimFromEnd(in, len(out)-1-i); d != 1 {
			strides[i] = st
			st *= d
		}
	}
	idx := make([]int32, size)
	pos := make([]int, len(out))
	off := 0
	for j := range idx {
		idx[j] = int32(off)
		for i := len(out) - 1; i >= 0; i-- {
			pos[i]++
			off += strides[i]
			if pos[i] < out[i] {
				break
			}
			off -= pos[i] * strides[i]
			pos[i] = 0
		}
	}
	return idx
}
