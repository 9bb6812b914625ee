//go:build !amd64 || noasm

package kernels

// cpuPaths is what this build supports: without assembly only Generic.
func cpuPaths() []Path { return []Path{Generic} }
