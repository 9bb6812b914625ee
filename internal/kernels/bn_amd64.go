//go:build amd64 && !noasm

package kernels

// The AVX-512F bodies of the batch-normalization passes (bn.go). Each
// computes the channels [0, cv) of a (rows, ld) matrix, cv a positive
// multiple of 16 and rows positive, 16 channels per step, with the
// additions and multiplications of the Go loops in the same order and no
// fused multiply-add, so that the results are those of the Go loops bit for
// bit.

// f64ChannelSumsAVX512 adds to s and q (float64, cv values each):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			d := float64(x[r*ld+j]) - shift[j]
//			s[j] += d
//			q[j] += d * d
//		}
//	}
//
//go:noescape
func f64ChannelSumsAVX512(x *float32, rows, ld, cv int, shift, s, q *float64)

// f32NormActAVX512 writes, for act 0 (linear), 1 (ReLU) or 2 (ReLU6):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			v := (x[r*ld+j]-center[j])*scale[j] + beta[j]
//			if act >= 1 {
//				v = max(v, 0) // Go's max, NaN bits included
//			}
//			if act == 2 {
//				v = min(v, 6) // Go's min
//			}
//			y[r*ld+j] = v
//		}
//	}
//
//go:noescape
func f32NormActAVX512(x, y *float32, rows, ld, cv int, center, scale, beta *float32, act int)

// f64ChannelGradSumsAVX512 adds to s and q (float64, cv values each), with
// z = NormAct's value at x for act 1 and 2 (recomputed with zc, zs, zb, the
// center, scale and beta of the forward pass, not read for act 0) and
// keep(z) = int32(bits(z))-1 >= 0 (and the same of 6-z for act 2):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			g := dy[r*ld+j]
//			if act != 0 && !keep(act((x[r*ld+j]-zc[j])*zs[j] + zb[j])) {
//				g = 0
//			}
//			s[j] += float64(g)
//			q[j] += float64(g) * (float64(x[r*ld+j]) - center[j])
//		}
//	}
//
//go:noescape
func f64ChannelGradSumsAVX512(x, dy *float32, rows, ld, cv int, zc, zs, zb *float32, center, s, q *float64, act int)

// f32NormActGradAVX512 writes, with g masked as in f64ChannelGradSumsAVX512
// (the mask recomputed with center, scale, beta):
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cv; j++ {
//			dx[r*ld+j] = k1[j]*g + k2[j]*(x[r*ld+j]-center[j]) + k3[j]
//		}
//	}
//
//go:noescape
func f32NormActGradAVX512(x, dy, dx *float32, rows, ld, cv int, center, scale, beta, k1, k2, k3 *float32, act int)
