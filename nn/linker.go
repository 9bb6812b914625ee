package nn

// Linker is a layer whose inference depends on the layers around it in its
// model: a QAT layer reads which quantizer produced the integer codes of
// its input (package quantize). Every model, however it is made (NewModel,
// NewSequential, Load), calls Link on each of its Linker layers once the
// graph is built, in topological order, so that a layer's producers are
// linked before it. Link reads the model and sets only the layer's own
// state.
type Linker interface {
	Link(m *Model)
}

// link calls Link on every Linker layer, in order.
func (m *Model) link() {
	for _, l := range m.layers {
		if lk, ok := l.(Linker); ok {
			lk.Link(m)
		}
	}
}
