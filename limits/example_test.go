package limits_test

import (
	"fmt"

	"github.com/goqat/goqat/limits"
)

// A program that loads large models raises the memory limit before it
// loads them, as --max-memory and GOQAT_MAX_MEMORY do.
func Example() {
	defer limits.SetMaxMemory(limits.MaxMemory()) // restore the setting for the other examples
	n, err := limits.ParseBytes("16GiB")
	if err != nil {
		panic(err)
	}
	limits.SetMaxMemory(n)
	fmt.Println("memory:", limits.MaxMemory())
	fmt.Println("work per sample:", limits.MaxWork())
	// Output:
	// memory: 17179869184
	// work per sample: 68719476736
}
