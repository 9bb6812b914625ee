package onnx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// shuffleOps appends ShuffleNet's channel shuffle of x (N, c, h, w) in g
// groups, as torch.onnx exports it: Reshape (N, g, c/g, h, w), Transpose
// (0, 2, 1, 3, 4), Reshape (N, -1, h, w).
func (b *builder) shuffleOps(x string, c, h, w, g int) string {
	s1 := b.int64s("shape", []int{5}, []int64{0, int64(g), int64(c / g), int64(h), int64(w)})
	s2 := b.int64s("shape", []int{4}, []int64{0, -1, int64(h), int64(w)})
	y := b.op("Reshape", "groups", []string{x, s1})
	y = b.op("Transpose", "swap", []string{y}, attrInts("perm", swapGroups...))
	return b.op("Reshape", "shuffle", []string{y, s2})
}

// TestImportChannelShuffle imports channel shuffles of Concats (ShuffleNet
// v2's stride-2 block: the Concat of two branches, then the shuffle) with
// groups made of one or several Concat inputs, nested Concats included,
// and checks them against ONNX semantics, exported again too.
func TestImportChannelShuffle(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name  string
		parts []int // channels of the Concat's inputs
		g     int
		nest  bool // concatenate the first two parts first
	}{
		{"two branches", []int{3, 3}, 2, false},
		{"parts make groups", []int{1, 3, 4, 2, 2}, 3, false},
		{"nested concat", []int{2, 2, 4}, 2, true},
		{"one group", []int{2, 3}, 1, false},
		{"one channel per group", []int{2, 3}, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 5)
			var ins []string
			c := 0
			for _, p := range tc.parts {
				ins = append(ins, b.conv1x1(r, "x", 3, p))
				c += p
			}
			if tc.nest {
				ins = append([]string{b.op("Concat", "inner", ins[:2], attrInt("axis", 1))}, ins[2:]...)
			}
			cat := b.op("Concat", "cat", ins, attrInt("axis", 1))
			m := evalImport(t, b.finish(b.shuffleOps(cat, c, 4, 5, tc.g)), 3, 4, 5)
			if s := m.OutputShape(m.OutputNames()[0]); s[0] != 4 || s[1] != 5 || s[2] != c {
				t.Errorf("output %v, want (4, 5, %d)", s, c)
			}
		})
	}
}

// TestImportChannelShuffleErrors checks the refusals: a shuffle of a
// tensor that is not a Concat of whole groups (goqat has no channel
// permutation layer), and a channel-group view read by another op or
// returned as an output.
func TestImportChannelShuffleErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name string
		make func(b *builder) string
		err  string
	}{
		{"not a concat", func(b *builder) string { return b.shuffleOps(b.conv1x1(r, "x", 3, 4), 4, 4, 5, 2) }, "no channel-permutation layer"},
		{"parts across groups", func(b *builder) string {
			cat := b.op("Concat", "cat", []string{b.conv1x1(r, "x", 3, 1), b.conv1x1(r, "x", 3, 3)}, attrInt("axis", 1))
			return b.shuffleOps(cat, 4, 4, 5, 2)
		}, "whole groups of 2 channels"},
		{"view read by relu", func(b *builder) string {
			s := b.int64s("shape", []int{5}, []int64{0, 3, 1, 4, 5})
			return b.op("Relu", "relu", []string{b.op("Reshape", "groups", []string{"x", s})})
		}, "only Transpose and Reshape may read it"},
		{"view as output", func(b *builder) string {
			s := b.int64s("shape", []int{5}, []int64{0, 3, 1, 4, 5})
			return b.op("Reshape", "groups", []string{"x", s})
		}, "5-D channel-group view"},
		{"other transpose of a view", func(b *builder) string {
			s := b.int64s("shape", []int{5}, []int64{0, 3, 1, 4, 5})
			v := b.op("Reshape", "groups", []string{"x", s})
			return b.op("Transpose", "t", []string{v}, attrInts("perm", 0, 1, 2, 4, 3))
		}, "only NHWC <-> NCHW transposes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 5)
			err := importError(b.finish(tc.make(b)))
			if !strings.Contains(err, tc.err) || strings.Contains(err, "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.err)
			}
		})
	}
}

// TestImportGroupsRoundTrip checks that a channel-group view reshaped back
// without the Transpose is the image itself (no layer).
func TestImportGroupsRoundTrip(t *testing.T) {
	b := graphBuilder(4, 3, 2)
	s1 := b.int64s("shape", []int{5}, []int64{0, 2, 2, 3, 2})
	s2 := b.int64s("shape", []int{4}, []int64{0, 4, 3, 2})
	y := b.op("Reshape", "groups", []string{"x", s1})
	y = b.op("Identity", "same", []string{y})
	y = b.op("Reshape", "back", []string{y, s2})
	y = b.op("Relu", "relu", []string{y})
	var mp *onnxpb.ModelProto = b.finish(y)
	m := evalImport(t, mp, 4, 3, 2)
	if got := layerTypes(m); got != "ReLU" {
		t.Errorf("layers %q, want only the ReLU", got)
	}
}
