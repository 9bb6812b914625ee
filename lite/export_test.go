package lite

// Test hooks for the external tests (package lite_test), which build their
// integer models with package convert.

// SharedWeights reports, for each op, whether interpreter b uses the same
// packed weights as a (true for ops without weights).
func SharedWeights(a, b *Interpreter) []bool {
	out := make([]bool, len(a.kernels))
	for k, kn := range a.kernels {
		out[k] = true
		switch x := kn.(type) {
		case *convKernel:
			out[k] = b.kernels[k].(*convKernel).g.g.Weights() == x.g.g.Weights()
		case *fcKernel:
			out[k] = b.kernels[k].(*fcKernel).g.g.Weights() == x.g.g.Weights()
		case *dwKernel:
			out[k] = b.kernels[k].(*dwKernel).d == x.d
		}
	}
	return out
}

// SplitShares returns the counter of batch shares of the last Invoke.
func SplitShares(it *Interpreter) *int { return &it.split.n }
