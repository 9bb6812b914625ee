//go:build amd64 && !noasm

package kernels

// f32Gemm12x32BsAVX512 is f32Gemm12x32AVX512 (stubs_amd64.go) with its B
// micro-panel read in place, row p at b[p*ldb : p*ldb+32], instead of
// packed (b[p*32 : p*32+32]); the loop and its FMAs are that kernel's. b
// must hold (k-1)*ldb+32 values.
//
//go:noescape
func f32Gemm12x32BsAVX512(k int, a *float32, rsa, csa, pfd int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// f32PackPanel32AVX512 copies rows rows of 32 floats, row p from
// src[p*lds:], to dst[p*32:] (a full micro-panel of packB for a B that is
// not transposed), two Z registers per row.
//
//go:noescape
func f32PackPanel32AVX512(dst, src *float32, rows, lds int)

// f32Gemm4x32BsAVX512 is f32Gemm12x32BsAVX512 for a tile of 4 rows (no
// prefetch of the next tile's op(A)): the same chain of FMAs and the same
// store for every element of those rows. c must hold 3*ldc+32 values.
//
//go:noescape
func f32Gemm4x32BsAVX512(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// hasEdge4 reports whether f32Gemm4x32BsAVX512 exists in this build.
const hasEdge4 = true
