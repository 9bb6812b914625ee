package transform

import (
	"encoding/json"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Match is one Conv2D / DepthwiseConv2D / Conv1D / Dense -> BatchNormalization
// (-> ReLU / ReLU6) chain found by FoldBatchNorm.
type Match struct {
	// Conv is the Conv2D, DepthwiseConv2D, Conv1D or Dense node.
	Conv *Node
	// BN is the BatchNormalization node that only Conv feeds.
	BN *Node
	// Act is the ReLU, ReLU6 or Activation("relu"/"relu6") node that only
	// BN feeds, or nil.
	Act *Node
	// Activation is "relu", "relu6" or "" (no activation).
	Activation string
}

// Foldable reports whether a layer type can be folded with a following
// BatchNormalization.
func Foldable(typ string) bool {
	return typ == "Conv2D" || typ == "DepthwiseConv2D" || typ == "Conv1D" || typ == "Dense"
}

// ActivationOf returns "relu" or "relu6" if the node is a ReLU, ReLU6 or an
// Activation layer with that function, else "".
func ActivationOf(n *Node) string {
	switch n.Type {
	case "ReLU":
		return "relu"
	case "ReLU6":
		return "relu6"
	case "Activation":
		if a, ok := n.Orig.(*nn.Activation); ok && (a.Func == "relu" || a.Func == "relu6") {
			return a.Func
		}
	}
	return ""
}

// FindFolds returns the foldable chains of g in graph order: a Conv2D,
// DepthwiseConv2D, Conv1D or Dense node whose only consumer is a
// BatchNormalization (and which is not a model output), with the ReLU or
// ReLU6 that is the BN's only consumer if there is one (and the BN is not a
// model output). skip, if not nil, excludes conv nodes by name.
func FindFolds(g *Graph, skip func(conv *Node) bool) []Match {
	var out []Match
	for _, n := range g.Nodes {
		if !Foldable(n.Type) || g.IsOutput(n.Name) || (skip != nil && skip(n)) {
			continue
		}
		cs := g.Consumers(n.Name)
		if len(cs) != 1 || cs[0].Type != "BatchNormalization" || len(cs[0].Inbound) != 1 {
			continue
		}
		m := Match{Conv: n, BN: cs[0]}
		if !g.IsOutput(m.BN.Name) {
			if as := g.Consumers(m.BN.Name); len(as) == 1 {
				if act := ActivationOf(as[0]); act != "" {
					m.Act, m.Activation = as[0], act
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// FoldBatchNorm replaces every chain FindFolds finds with the node that
// fold returns for it (typically one FoldedConvBN layer). The replacement
// takes the conv's name and inbound; consumers of the chain's last node are
// rewired to it. It returns the number of folds.
func FoldBatchNorm(g *Graph, skip func(conv *Node) bool, fold func(Match) (*Node, error)) (int, error) {
	ms := FindFolds(g, skip)
	for _, m := range ms {
		r, err := fold(m)
		if err != nil {
			return 0, err
		}
		r.Name = m.Conv.Name
		r.Inbound = append([]string(nil), m.Conv.Inbound...)
		old := []string{m.Conv.Name, m.BN.Name}
		if m.Act != nil {
			old = append(old, m.Act.Name)
		}
		g.Replace(old, r)
	}
	return len(ms), nil
}

// StandaloneBatchNorm puts a 1x1 DepthwiseConv2D with a kernel of ones and
// no bias before every BatchNormalization that does not follow a foldable
// layer (after an Add or a Concatenate, say), so that FoldBatchNorm folds
// it like any other: the BN becomes a per-channel affine map whose scale
// is quantized as a depthwise kernel. Run it after a first FoldBatchNorm
// (the BNs left are the standalone ones) and fold again. keep, if not nil,
// selects the BNs to prepare; fixed, if not nil, is called with each new
// node, to mark its kernel constant. It returns the number of BNs it
// prepared. (A BN normalizes the last axis, so the depthwise kernel has one
// entry per channel.)
func StandaloneBatchNorm(g *Graph, keep func(bn *Node) bool, fixed func(dw *Node)) (int, error) {
	n := 0
	for _, bn := range append([]*Node(nil), g.Nodes...) {
		if bn.Type != "BatchNormalization" || len(bn.Inbound) != 1 {
			continue
		}
		if keep != nil && !keep(bn) {
			continue
		}
		gamma, ok := bn.Weights["gamma"]
		if !ok || len(gamma.Data) == 0 {
			continue
		}
		ch := len(gamma.Data)
		dw := nn.NewDepthwiseConv2D(1, 1)
		dw.UseBias = false
		raw, err := json.Marshal(dw.Config())
		if err != nil {
			return n, err
		}
		k := tensor.New(1, 1, ch, 1)
		for i := range k.Data {
			k.Data[i] = 1
		}
		d := &Node{Name: g.FreshName(bn.Name + "_affine"), Type: dw.Type(), Config: raw,
			Inbound: append([]string(nil), bn.Inbound...), Weights: map[string]*tensor.Tensor{"depthwise_kernel": k}}
		if fixed != nil {
			fixed(d)
		}
		g.Insert(bn.Name, d)
		bn.Inbound = []string{d.Name}
		n++
	}
	return n, nil
}
