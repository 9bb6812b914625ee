//go:build !amd64 || noasm

package kernels

// f32MaxWindowAVX512 is never called without assembly (the AVX512 path is
// unsupported); it exists so that pool.go compiles.
func f32MaxWindowAVX512(img *float32, offs *int32, ntaps int, o *float32, a *int32, cv int) {
	panic("kernels: AVX-512 max-pool kernel called in a build without assembly")
}

// f32RouteMaxAVX512 is never called without assembly; it exists so that
// pool.go compiles.
func f32RouteMaxAVX512(dIn, grad *float32, arg, offs *int32, ntaps, cv int) {
	panic("kernels: AVX-512 max-pool kernel called in a build without assembly")
}
