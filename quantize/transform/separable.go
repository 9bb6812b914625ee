package transform

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// SplitSeparable replaces every SeparableConv2D node with its two stages,
// a DepthwiseConv2D named "<name>_depthwise" (the layer's kernel size,
// strides and padding, no bias) and a 1x1 Conv2D named "<name>_pointwise"
// (the filters and bias), so that each stage is quantized (and can be
// folded) on its own, as the integer model runs them. It returns the number
// of layers split.
func SplitSeparable(g *Graph) (int, error) {
	count := 0
	for _, n := range append([]*Node(nil), g.Nodes...) {
		if n.Type != "SeparableConv2D" {
			continue
		}
		s, ok := n.Orig.(*nn.SeparableConv2D)
		if !ok {
			return count, fmt.Errorf("layer %q: a SeparableConv2D node without its layer", n.Name)
		}
		dw := nn.NewDepthwiseConv2D(s.KernelSize[0], s.KernelSize[1])
		dw.Strides, dw.Padding, dw.UseBias = s.Strides, s.Padding, false
		pw := nn.NewConv2D(s.Filters, 1, 1)
		pw.UseBias = s.UseBias
		dwCfg, err := json.Marshal(dw.Config())
		if err != nil {
			return count, err
		}
		pwCfg, err := json.Marshal(pw.Config())
		if err != nil {
			return count, err
		}
		dn := &Node{Name: g.FreshName(n.Name + "_depthwise"), Type: dw.Type(), Config: dwCfg, Inbound: n.Inbound,
			Weights: map[string]*tensor.Tensor{}}
		pn := &Node{Name: g.FreshName(n.Name + "_pointwise"), Type: pw.Type(), Config: pwCfg, Inbound: []string{dn.Name},
			Weights: map[string]*tensor.Tensor{}}
		if w := n.Weights["depthwise_kernel"]; w != nil {
			dn.Weights["depthwise_kernel"] = w
		}
		if w := n.Weights["pointwise_kernel"]; w != nil {
			pn.Weights["kernel"] = w
		}
		if w := n.Weights["bias"]; w != nil {
			pn.Weights["bias"] = w
		}
		g.Replace([]string{n.Name}, dn, pn)
		count++
	}
	return count, nil
}
