package qkernels

import "github.com/goqat/goqat/internal/workers"

// Work is split across the persistent worker goroutines of
// internal/workers, shared with the float kernels, so that a product
// neither spawns goroutines nor allocates. An int8 layer at batch 1 takes
// tens of microseconds, about what waking a parked thread costs here, so
// idle workers poll for a while before they park, and a caller polls for
// its parts to finish.

// Runner splits loops across the workers without allocating (keep one per
// user, e.g. one per op of an interpreter): workers.Runner, named here for
// the int8 operators.
type Runner = workers.Runner
