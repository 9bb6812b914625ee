package bounds

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// units are the suffixes ParseBytes accepts, longest first within a
// letter, with their multipliers.
var units = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseBytes reads a byte count: a positive number with an optional unit,
// case-insensitive: B, KiB/MiB/GiB/TiB (powers of 1024), kB/MB/GB/TB
// (powers of 1000), K/M/G/T (powers of 1024), e.g. "8GiB", "512M",
// "1.5G", "1000000". The result must be at least 1 byte and below 2^62.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range units {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v <= 0 {
		return 0, fmt.Errorf("%q is not a byte count (e.g. 8GiB, 512MiB, 1000000)", s)
	}
	b := v * mult
	if b < 1 || b >= 1<<62 {
		return 0, fmt.Errorf("%q is out of range (1 byte to 4 EiB)", s)
	}
	return int64(b), nil
}

// FormatBytes prints a byte count for messages: "812 B", "3.1 GiB".
func FormatBytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
