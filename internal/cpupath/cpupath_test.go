package cpupath

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	tb := New("test", "GOQAT_CPUPATH_TEST_UNSET", []string{"generic", "fast", "faster"}, []bool{true, true, false})
	if got := tb.Active(); got != 1 {
		t.Errorf("Active() = %d, want 1 (the fastest supported)", got)
	}
	if got := tb.All(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("All() = %v, want [0 1]", got)
	}
	for env, want := range map[string]int{"": 1, "generic": 0, " FAST ": 1, "faster": 1, "nonsense": 1} {
		if got := tb.Default(env); got != want {
			t.Errorf("Default(%q) = %d, want %d", env, got, want)
		}
	}
	if p, err := tb.Parse("Faster"); err != nil || p != 2 {
		t.Errorf("Parse(Faster) = %d, %v", p, err)
	}
	if _, err := tb.Parse("slow"); err == nil || !strings.Contains(err.Error(), "generic, fast, faster") {
		t.Errorf("Parse(slow): %v", err)
	}
	if tb.Name(7) != "Path(7)" || tb.Name(1) != "fast" {
		t.Errorf("Name: %q %q", tb.Name(7), tb.Name(1))
	}
	restore := tb.Set(0)
	if tb.Active() != 0 {
		t.Error("Set(0) did not take")
	}
	restore()
	if tb.Active() != 1 {
		t.Error("restore did not restore")
	}
	for _, p := range []int{-1, 2, 3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%d) did not panic", p)
				}
			}()
			tb.Set(p)
		}()
	}
}
