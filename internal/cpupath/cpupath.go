// Package cpupath is the path table shared by goqat's kernel packages: a
// list of implementations ordered from the most portable to the fastest,
// which of them this build and CPU can run, and the one in use, chosen at
// start-up as the fastest supported one not above the cap an environment
// variable names (GOQAT_F32_PATH, GOQAT_INT8_PATH).
//
// Each kernel package wraps a Table in its own Path type, so that the two
// sets of paths cannot be mixed up.
package cpupath

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Table is one package's set of paths; path i is names[i].
type Table struct {
	pkg, env  string
	names     []string
	supported []bool
	active    atomic.Int32
}

// New builds a table for package pkg (named in errors and panics) whose
// cap is read from the environment variable env; supported[i] tells
// whether path i can run here (supported[0], the pure-Go path, must be
// true).
func New(pkg, env string, names []string, supported []bool) *Table {
	if len(names) == 0 || len(names) != len(supported) || !supported[0] {
		panic("cpupath: bad table for " + pkg)
	}
	t := &Table{pkg: pkg, env: env, names: names, supported: supported}
	t.active.Store(int32(t.Default(os.Getenv(env))))
	return t
}

// Len is the number of paths.
func (t *Table) Len() int { return len(t.names) }

// Name is path p's name, as the environment variable spells it.
func (t *Table) Name(p int) string {
	if p >= 0 && p < len(t.names) {
		return t.names[p]
	}
	return fmt.Sprintf("Path(%d)", p)
}

// Parse returns the path named s (any case, spaces trimmed).
func (t *Table) Parse(s string) (int, error) {
	for p, n := range t.names {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%s: unknown path %q (want %s)", t.pkg, s, strings.Join(t.names, ", "))
}

// Supported reports whether this build and CPU can run path p.
func (t *Table) Supported(p int) bool { return p >= 0 && p < len(t.names) && t.supported[p] }

// All lists the supported paths, the most portable first. The cap does not
// filter it, so that tests can force every path.
func (t *Table) All() []int {
	var ps []int
	for p := range t.names {
		if t.supported[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// Default is the fastest supported path not above the one env names (no
// cap for an empty or unknown name).
func (t *Table) Default(env string) int {
	limit := len(t.names) - 1
	if env != "" {
		if p, err := t.Parse(env); err == nil {
			limit = p
		}
	}
	best := 0
	for _, p := range t.All() {
		if p <= limit {
			best = p
		}
	}
	return best
}

// Active is the path in use.
func (t *Table) Active() int { return int(t.active.Load()) }

// Set makes p the path in use and returns a function restoring the
// previous one. It panics if p is not supported: running an instruction
// set the CPU lacks would crash, so asking for it is a programming error.
func (t *Table) Set(p int) (restore func()) {
	if !t.Supported(p) {
		var names []string
		for _, q := range t.All() {
			names = append(names, t.names[q])
		}
		panic(fmt.Sprintf("%s: SetPath(%s): not supported here (supported: %v)", t.pkg, t.Name(p), names))
	}
	prev := t.active.Swap(int32(p))
	return func() { t.active.Store(prev) }
}
