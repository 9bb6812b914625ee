package workers

import (
	"runtime"
	"testing"
)

func TestParseThreads(t *testing.T) {
	for _, c := range []struct {
		s  string
		n  int
		ok bool
	}{
		{"1", 1, true}, {"4", 4, true}, {" 3\n", 3, true}, {"64", 64, true},
		{"", 0, false}, {"0", 0, false}, {"-2", 0, false}, {"two", 0, false},
		{"2.5", 0, false}, {"0x4", 0, false}, {"4 threads", 0, false},
	} {
		n, ok := parseThreads(c.s)
		if n != c.n || ok != c.ok {
			t.Errorf("parseThreads(%q) = %d, %v, want %d, %v", c.s, n, ok, c.n, c.ok)
		}
	}
}

func TestSet(t *testing.T) {
	defer Set(N())
	for _, c := range []struct{ set, want int }{
		{3, 3}, {1, 1}, {0, runtime.GOMAXPROCS(0)}, {-5, runtime.GOMAXPROCS(0)}, {17, 17},
	} {
		Set(c.set)
		if got := N(); got != c.want {
			t.Errorf("Set(%d): N() = %d, want %d", c.set, got, c.want)
		}
	}
}
