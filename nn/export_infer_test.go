package nn

import "github.com/goqat/goqat/tensor"

// ForwardLayers runs m's layers one by one in inference mode (no inference
// plan), for the external tests that compare the plan with it.
func ForwardLayers(m *Model, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	return m.forwardLayers(&Context{}, in)
}

// HasInferPlan reports whether m's inference Forward runs a plan.
func HasInferPlan(m *Model) bool { return m.inferPlanOf() != nil }
