package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/goqat/goqat/"

// deps returns the module packages that pkg depends on, directly or not
// (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var ds []string
	for _, d := range strings.Fields(string(out)) {
		if strings.HasPrefix(d, mod) && d != mod+pkg {
			ds = append(ds, strings.TrimPrefix(d, mod))
		}
	}
	return ds
}

// imports returns the module packages that pkg imports directly.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var ds []string
	for _, d := range strings.Fields(string(out)) {
		if strings.HasPrefix(d, mod) {
			ds = append(ds, strings.TrimPrefix(d, mod))
		}
	}
	return ds
}

// TestRuntimeFreeOfTraining checks that the integer runtime (lite) and the
// numerics (qmath) depend on nothing that trains or converts.
func TestRuntimeFreeOfTraining(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	allowed := map[string][]string{
		"qmath": {},
		"lite":  {"qmath", "tensor", "safetensors", "internal/"},
	}
	for pkg, ok := range allowed {
		for _, d := range deps(t, pkg) {
			good := false
			for _, a := range ok {
				if d == a || strings.HasSuffix(a, "/") && strings.HasPrefix(d, a) {
					good = true
				}
			}
			if !good {
				t.Errorf("%s depends on %s (allowed: %v)", pkg, d, ok)
			}
		}
	}
}

// TestInternalImportsDownward checks that no package under internal/
// imports a public package other than the bottom ones (tensor, qmath).
func TestInternalImportsDownward(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command("go", "list", mod+"internal/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	bottom := map[string]bool{"tensor": true, "qmath": true, "safetensors": true}
	n := 0
	for _, p := range strings.Fields(string(out)) {
		pkg := strings.TrimPrefix(p, mod)
		n++
		for _, d := range imports(t, pkg) {
			if !strings.HasPrefix(d, "internal/") && !bottom[d] {
				t.Errorf("%s imports %s, a public package above it", pkg, d)
			}
		}
	}
	if n < 5 {
		t.Fatalf("listed only %d internal packages", n)
	}
}
