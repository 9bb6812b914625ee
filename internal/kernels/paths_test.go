package kernels

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestPathsExercised fails if a path that this CPU and build support (as
// x/sys/cpu reports, see cpuPaths) is missing from SupportedPaths, does not
// run its own kernel when forced, or was skipped by TestSgemmPaths.
func TestPathsExercised(t *testing.T) {
	want := cpuPaths()
	if got := SupportedPaths(); !slices.Equal(got, want) {
		t.Fatalf("SupportedPaths() = %v, but this CPU and build support %v", got, want)
	}
	// A 13x40 product of small integers (exact in float32), wide and tall
	// enough for the tile kernel of every path.
	const m, n, k = 13, 40, 3
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	for i := range a {
		a[i] = float32(i%7 - 3)
	}
	for i := range b {
		b[i] = float32(i%5 - 2)
	}
	ref := make([]float32, m*n)
	SgemmRef(false, false, m, n, k, 1, a, k, b, n, 0, ref, n)
	for _, p := range want {
		restore := SetPath(p)
		before := pathCalls[p][0].Load()
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		restore()
		if pathCalls[p][0].Load() == before {
			t.Errorf("Sgemm with SetPath(%v) did not run the %v tile kernel", p, p)
		}
		if !slices.Equal(c, ref) {
			t.Errorf("%v: Sgemm = %v, want %v", p, c, ref)
		}
	}
	// TestSgemmPaths records the paths it ran; run alone (-run
	// TestPathsExercised) it has not run, and that is not a failure.
	if len(exercised) > 0 {
		for _, p := range want {
			if !exercised[p] {
				t.Errorf("TestSgemmPaths did not exercise path %v, which this CPU supports", p)
			}
		}
	}
}

func TestSetPath(t *testing.T) {
	orig := ActivePath()
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		if ActivePath() != p {
			t.Errorf("ActivePath() = %v after SetPath(%v)", ActivePath(), p)
		}
		restore()
		if ActivePath() != orig {
			t.Errorf("ActivePath() = %v after restore, want %v", ActivePath(), orig)
		}
	}
	for _, p := range []Path{-1, numPaths, 42} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetPath(%v) did not panic", p)
				}
			}()
			SetPath(p)
		}()
	}
	if !supported(AVX512) {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("SetPath(AVX512) did not panic on a CPU without AVX-512")
				}
			}()
			SetPath(AVX512)
		}()
	}
}

func TestParseAndDefaultPath(t *testing.T) {
	for _, p := range []Path{Generic, AVX2, AVX512} {
		got, err := ParsePath(" " + p.String() + " ")
		if err != nil || got != p {
			t.Errorf("ParsePath(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePath("sse"); err == nil {
		t.Error(`ParsePath("sse") did not fail`)
	}
	sup := SupportedPaths()
	best := sup[len(sup)-1]
	cases := map[string]Path{"": best, "bogus": best, "generic": Generic, "GENERIC": Generic, "avx512": best}
	if supported(AVX2) {
		cases["avx2"] = AVX2
	} else {
		cases["avx2"] = Generic
	}
	for env, want := range cases {
		if got := defaultPath(env); got != want {
			t.Errorf("defaultPath(%q) = %v, want %v", env, got, want)
		}
	}
}

// TestEnvPathCap checks that GOQAT_F32_PATH, read at start-up, caps the
// path: it reruns this test binary with the variable set to each supported
// path and checks the path the child starts with.
func TestEnvPathCap(t *testing.T) {
	if want := os.Getenv("GOQAT_TEST_WANT_PATH"); want != "" {
		// In the child.
		if got := ActivePath().String(); got != want {
			t.Fatalf("GOQAT_F32_PATH=%s: ActivePath() = %s, want %s", os.Getenv("GOQAT_F32_PATH"), got, want)
		}
		return
	}
	for _, p := range SupportedPaths() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvPathCap$")
		cmd.Env = append(os.Environ(), "GOQAT_F32_PATH="+p.String(), "GOQAT_TEST_WANT_PATH="+p.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOQAT_F32_PATH=%v: %v\n%s", p, err, out)
		}
	}
}
