// Package bounds holds what the loaders need to keep a model file's
// demands bounded (docs/RELIABILITY.md, Resource bounds): checked integer
// arithmetic for shapes, the process's limits on a model's work per sample
// and on the memory it may plan (GOQAT_MAX_WORK, GOQAT_MAX_MEMORY), and
// Plan, which adds up a model's work and bytes layer by layer and checks
// them against the limits before anything runs. Package nn plans float and
// QAT models with it, package lite integer models; the public package
// limits sets the limits.
package bounds
