package kernels

import (
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
	a := []float32{1, 2, 3, 4}
	for _, p := range want {
		restore := SetPath(p)
		before := pathCalls[p].Load()
		c := make([]float32, 4)
		Sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2)
		restore()
		if pathCalls[p].Load() == before {
			t.Errorf("Sgemm with SetPath(%v) did not run the %v kernel", p, p)
		}
		if want := []float32{7, 10, 15, 22}; !slices.Equal(c, want) {
			t.Errorf("%v: [[1 2] [3 4]]^2 = %v, want %v", p, c, want)
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
