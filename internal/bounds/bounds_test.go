package bounds

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChecked(t *testing.T) {
	if _, ok := Mul(math.MaxInt/2+1, 2); ok {
		t.Error("Mul overflow accepted")
	}
	if _, ok := Add(math.MaxInt, 1); ok {
		t.Error("Add overflow accepted")
	}
	if _, ok := Sum(4, math.MaxInt64, math.MaxInt64); ok {
		t.Error("4 + (2^63-1) + (2^63-1), which wraps to 2, accepted")
	}
	if p, ok := Product(3, 5, 7); !ok || p != 105 {
		t.Errorf("Product(3, 5, 7) = %d, %v", p, ok)
	}
	if _, ok := Product(1<<32, 1<<32, 4); ok {
		t.Error("2^32 x 2^32 x 4, which wraps to 0, accepted")
	}
	for _, s := range [][]int{{1 << 33, 1 << 33, 4}, {1 << 29}, {0, 4}, {-1, -1}, {1 << 15, 1 << 14}} {
		if _, err := Values(s); err == nil {
			t.Errorf("Values(%v) accepted", s)
		}
	}
	if n, err := Values([]int{1 << 14, 1 << 14}); err != nil || n != 1<<28 {
		t.Errorf("Values(2^14, 2^14) = %d, %v", n, err)
	}
	for _, c := range []struct {
		got, want int64
	}{
		{SatMul(1<<40, 1<<40), math.MaxInt64}, {SatMul(1<<62, 1<<62, 0), 0}, {SatMul(3, -1), math.MaxInt64}, {SatMul(6, 7), 42},
		{SatAdd(math.MaxInt64, 1), math.MaxInt64}, {SatAdd(1, -1), math.MaxInt64}, {SatAdd(2, 3), 5},
	} {
		if c.got != c.want {
			t.Errorf("got %d, want %d", c.got, c.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{
		"8GiB": 8 << 30, "512M": 512 << 20, "1.5G": 3 << 29, "1000000": 1e6, " 2 kb ": 2000, "64KiB": 64 << 10, "3b": 3, "1T": 1 << 40,
	} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "lots", "-1G", "0", "NaN", "Inf", "0.5", "9EiB", "1e30"} {
		if _, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q) accepted", s)
		}
	}
	if got := FormatBytes(3 << 29); got != "1.5 GiB" {
		t.Errorf("FormatBytes(1.5 GiB) = %q", got)
	}
}

func TestMemTotal(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int64{
		"MemTotal:       24683748 kB\nMemFree: 1 kB\n": 24683748 << 10,
		"MemFree: 1 kB\n":     0,
		"MemTotal: lots kB\n": 0,
		"MemTotal: 1024 MB\n": 0,
	} {
		p := filepath.Join(dir, "meminfo")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := memTotal(p); got != want {
			t.Errorf("memTotal(%q) = %d, want %d", content, got, want)
		}
	}
	if memTotal(filepath.Join(dir, "missing")) != 0 {
		t.Error("a missing file read")
	}
	if d := DefaultMemory(); d <= 0 {
		t.Errorf("DefaultMemory() = %d", d)
	}
}

func TestPlan(t *testing.T) {
	old := MaxMemory()
	defer SetMaxMemory(old)
	SetMaxMemory(1000)
	var p Plan
	p.Add("a", 10, 100, 50)
	p.Add("b", 20, 50, 0)
	p.AddScratch("c", Scratch{PerSample: 30, Cap: 60})
	p.AddScratch("d", Scratch{PerSample: 10, Cap: 1000, From: 2})
	// 50 + 150n + min(30n, 60) + (n >= 2: min(10n, 1000))
	for n, want := range map[int]int64{1: 230, 2: 430, 5: 910, 6: 1070} {
		if got := p.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %d, want %d", n, got, want)
		}
	}
	if b := p.MaxBatch(); b != 5 {
		t.Errorf("MaxBatch() = %d, want 5", b)
	}
	if b, err := p.FitBatch("m", 256); b != 5 || err != nil {
		t.Errorf("FitBatch(256) = %d, %v", b, err)
	}
	if err := p.CheckBatch("m", 6); err == nil || !strings.Contains(err.Error(), EnvMemory) || !strings.Contains(err.Error(), `layer "a"`) {
		t.Errorf("CheckBatch(6): %v", err)
	}
	SetMaxMemory(229)
	if b, err := p.FitBatch("m", 4); b != 0 || err == nil {
		t.Errorf("FitBatch over the limit at batch 1 = %d, %v", b, err)
	}
	oldW := MaxWork()
	defer SetMaxWork(oldW)
	SetMaxWork(29)
	if err := p.Check("m"); err == nil || !strings.Contains(err.Error(), EnvWork) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Check over the work limit: %v", err)
	}
	p.Add("huge", -1, 0, 0)
	if p.Work != math.MaxInt64 {
		t.Errorf("an unknown count does not saturate the plan: %d", p.Work)
	}
}
