package threads_test

import (
	"fmt"
	"runtime"

	"github.com/goqat/goqat/threads"
)

// Set caps the threads of every later training step, float inference and
// int8 Invoke; the results do not change, only the speed.
func Example() {
	defer threads.Set(threads.N()) // restore the setting for the other examples
	threads.Set(1)
	fmt.Println("threads:", threads.N())
	threads.Set(0) // all cores
	fmt.Println("all cores:", threads.N() == runtime.GOMAXPROCS(0))
	// Output:
	// threads: 1
	// all cores: true
}
