package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddActPaths checks AddAct and ActRows on every path against the Go
// expressions of the layers (Add's a+b, then ReLU's max(v, 0) or ReLU6's
// min(max(v, 0), 6)), bit for bit (any NaN matching any NaN), on lengths
// around multiples of 16, with special values (signed zeros, 6 and its
// neighbours, NaNs, infinities), in place too, the guard zone untouched.
func TestAddActPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := Generic
		if p == AVX512 {
			want = AVX512
		}
		before := passCalls[want].Load()
		for _, n := range []int{0, 1, 15, 16, 17, 33, 64, 100} {
			for act := ActLinear; act <= ActReLU6; act++ {
				a := bnMatrix(r, 1, n, 3)
				b := bnMatrix(r, 1, n, -3)
				ref := make([]float32, n)
				refAct := make([]float32, n)
				for i := range ref {
					s := a[i] + b[i]
					refAct[i] = a[i]
					switch act {
					case ActReLU:
						s = max(s, 0)
						refAct[i] = max(a[i], 0)
					case ActReLU6:
						s = min(max(s, 0), 6)
						refAct[i] = min(max(a[i], 0), 6)
					}
					ref[i] = s
				}
				y := bnMatrix(r, 1, n, 0)
				AddAct(a, b, y[:n], act)
				if i, ok := sameBits32(y[:n], ref); !ok {
					t.Fatalf("%v n=%d act=%d: AddAct[%d] = %v, want %v", p, n, act, i, y[i], ref[i])
				}
				for i := n; i < len(y); i++ {
					if math.Float32bits(y[i]) != math.Float32bits(bnGuard) {
						t.Fatalf("%v n=%d: AddAct wrote past its end", p, n)
					}
				}
				ActRows(a, a[:n], act) // in place
				if i, ok := sameBits32(a[:n], refAct); !ok {
					t.Fatalf("%v n=%d act=%d: ActRows[%d] = %v, want %v", p, n, act, i, a[i], refAct[i])
				}
			}
		}
		if passCalls[want].Load() == before {
			t.Errorf("AddAct with SetPath(%v) did not run the %v code", p, want)
		}
		restore()
	}
}

// TestBiasActPaths checks BiasAct on every path against the layers' two
// steps (the bias add, then the activation), bit for bit (any NaN matching
// any NaN), on row lengths around multiples of 16 with a row stride
// beyond them, special values included; the values between rows and after
// the last row are left alone.
func TestBiasActPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := Generic
		if p == AVX512 {
			want = AVX512
		}
		before := passCalls[want].Load()
		for _, cols := range []int{1, 15, 16, 17, 33, 64, 100} {
			for _, rows := range []int{1, 3} {
				for act := ActLinear; act <= ActReLU6; act++ {
					ld := cols + 5
					bias := bnMatrix(r, 1, cols, 2)[:cols]
					y := bnMatrix(r, rows, ld, -1)
					ref := append([]float32(nil), y...)
					for i := 0; i < rows; i++ {
						for j, b := range bias {
							ref[i*ld+j] = act1(ref[i*ld+j]+b, act)
						}
					}
					BiasAct(y, rows, ld, bias, act)
					if i, ok := sameBits32(y, ref); !ok {
						t.Fatalf("%v cols=%d rows=%d act=%d: y[%d] = %v, want %v", p, cols, rows, act, i, y[i], ref[i])
					}
				}
			}
		}
		if passCalls[want].Load() == before {
			t.Errorf("BiasAct with SetPath(%v) did not run the %v code", p, want)
		}
		restore()
	}
}
