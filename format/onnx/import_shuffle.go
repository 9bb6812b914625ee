package onnx

import (
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// shuffle imports a channel shuffle, the Reshape back to (N, C, H, W) of
// Transpose(0, 2, 1, 3, 4) of an NCHW image's channel groups (N, g, C/g,
// H, W) (x, a shuffled view): output channel j*g + i is input channel
// i*C/g + j. goqat has no channel-permutation layer, so each group must be
// whole goqat tensors: x must come from a channel Concat whose inputs make
// up the g groups, as in ShuffleNet v2, where the shuffle follows the
// Concat of the block's two branches. Group i, G_i (H, W, C/g) (its inputs
// concatenated first if it has several), becomes a Reshape to (H, W, C/g,
// 1); a Concatenate on the last axis interleaves the groups into (H, W,
// C/g, g), and a Reshape to (H, W, C) is the shuffled image. The layers
// only copy values. With g = 1 or g = C the shuffle is the identity.
// Refused: a view of anything but such a Concat.
func (im *importer) shuffle(n *onnxpb.NodeProto, x *value) error {
	s := x.node.Shape() // H, W, C
	h, w, c, g := s[0], s[1], s[2], x.groups
	out := n.GetOutput()[0]
	cg := c / g
	if g == 1 || cg == 1 {
		im.vals[out] = x.as(nchw)
		return nil
	}
	var groups []*nn.Node
	var cur []*nn.Node
	filled := 0
	for _, p := range x.parts {
		cur = append(cur, p)
		filled += p.Shape()[2]
		if filled > cg {
			break
		}
		if filled == cg {
			gi := cur[0]
			if len(cur) > 1 {
				var err error
				if gi, err = im.apply(n, fmt.Sprintf("_group%d", len(groups)), nn.NewConcatenate(), cur...); err != nil {
					return err
				}
			}
			groups = append(groups, gi)
			cur, filled = nil, 0
		}
	}
	if len(groups) != g {
		return fmt.Errorf("channel shuffle of %d channels in %d groups: goqat has no channel-permutation layer, so the input must be a Concat "+
			"whose inputs make up whole groups of %d channels", c, g, cg)
	}
	cols := make([]*nn.Node, g)
	for i, gi := range groups {
		var err error
		if cols[i], err = im.apply(n, fmt.Sprintf("_col%d", i), nn.NewReshape(h, w, cg, 1), gi); err != nil {
			return err
		}
	}
	joined, err := im.apply(n, "_interleave", nn.NewConcatenate(), cols...)
	if err != nil {
		return err
	}
	v, err := im.call(n, nn.NewReshape(h, w, c), nchw, joined)
	if err == nil {
		v.nonNeg = x.nonNeg
	}
	return err
}
