package threads_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/threads"
)

// childEnv marks a run of the test binary started by TestEnv.
const childEnv = "GOQAT_THREADS_TEST_CHILD"

// TestEnvChild prints the thread count the process started with, when run
// by TestEnv; otherwise it does nothing.
func TestEnvChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("run by TestEnv")
	}
	fmt.Printf("threads=%d gomaxprocs=%d\n", threads.N(), runtime.GOMAXPROCS(0))
}

// TestEnv runs the test binary with GOQAT_THREADS set to good and bad
// values and checks the thread count it starts with.
func TestEnv(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		val  string
		want int // 0: GOMAXPROCS
	}{
		{"3", 3}, {"1", 1}, {" 5 ", 5},
		{"", 0}, {"0", 0}, {"-2", 0}, {"many", 0}, {"2.5", 0},
	} {
		cmd := exec.Command(exe, "-test.run=^TestEnvChild$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1", threads.Env+"="+c.val)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%q: %v\n%s", threads.Env, c.val, err, out)
		}
		var n, procs int
		i := strings.Index(string(out), "threads=")
		if i < 0 {
			t.Fatalf("%s=%q: no thread count in the output:\n%s", threads.Env, c.val, out)
		}
		if _, err := fmt.Sscanf(string(out[i:]), "threads=%d gomaxprocs=%d", &n, &procs); err != nil {
			t.Fatalf("%s=%q: %v in %q", threads.Env, c.val, err, out[i:])
		}
		want := c.want
		if want == 0 {
			want = procs
		}
		if n != want {
			t.Errorf("%s=%q: started with %d threads, want %d", threads.Env, c.val, n, want)
		}
	}
}

func TestSet(t *testing.T) {
	defer threads.Set(threads.N())
	threads.Set(3)
	if got := threads.N(); got != 3 {
		t.Errorf("after Set(3), N() = %d", got)
	}
	threads.Set(-1)
	if got, want := threads.N(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("after Set(-1), N() = %d, want GOMAXPROCS %d", got, want)
	}
}
