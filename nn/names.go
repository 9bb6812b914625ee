package nn

import (
	"fmt"
	"regexp"
	"strings"
)

// Keras's to_snake_case: "Conv2D" -> "conv2d", "BatchNormalization" ->
// "batch_normalization", "ReLU" -> "re_lu", "MaxPooling2D" ->
// "max_pooling2d".
var (
	snakeWord  = regexp.MustCompile(`(.)([A-Z][a-z0-9]+)`)
	snakeLower = regexp.MustCompile(`([a-z])([A-Z])`)
)

// snakeExceptions names the layer types whose Keras-style default name is
// not the snake case of the type: goqat types that Keras spells otherwise.
var snakeExceptions = map[string]string{
	"ReLU6": "re_lu6", // Keras has ReLU(max_value=6); plain snake case gives "re_l_u6"
}

// DefaultName returns the base of the default name of a layer of type typ,
// as Keras derives it from the class name: snake case ("conv2d",
// "batch_normalization", "re_lu", "max_pooling2d"). Models append "_1",
// "_2", ... to make names unique.
func DefaultName(typ string) string {
	if s, ok := snakeExceptions[typ]; ok {
		return s
	}
	if typ == "" {
		return "layer"
	}
	s := snakeWord.ReplaceAllString(typ, "${1}_${2}")
	s = strings.ToLower(snakeLower.ReplaceAllString(s, "${1}_${2}"))
	if s[0] == '_' {
		return "private" + s
	}
	return s
}

// namer hands out unique names within one model: base, base_1, base_2, ...,
// skipping names already taken.
type namer struct {
	taken map[string]bool
	next  map[string]int
}

func newNamer() *namer { return &namer{taken: map[string]bool{}, next: map[string]int{}} }

// reserve claims an explicit name, failing if it is already taken.
func (n *namer) reserve(name, what string) error {
	if name == "" {
		return fmt.Errorf("%s has an empty name", what)
	}
	if n.taken[name] {
		return fmt.Errorf("duplicate name %q (%s): names must be unique within a model", name, what)
	}
	n.taken[name] = true
	return nil
}

// fresh returns the first free name among base, base_1, base_2, ... and
// claims it.
func (n *namer) fresh(base string) string {
	for {
		k := n.next[base]
		n.next[base] = k + 1
		name := base
		if k > 0 {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		if !n.taken[name] {
			n.taken[name] = true
			return name
		}
	}
}

// freshFrom1 is like fresh but starts at base_1, as Keras names inputs
// ("input_1", "input_2").
func (n *namer) freshFrom1(base string) string {
	if n.next[base] == 0 {
		n.next[base] = 1
	}
	return n.fresh(base)
}
