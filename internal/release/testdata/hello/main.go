// Command hello is the small program release tests build twice to check
// that the release build flags give byte-identical binaries.
package main

import (
	"fmt"
	"os"

	"github.com/palisade-sec/palisade/internal/buildinfo"
)

func main() {
	fmt.Fprintln(os.Stdout, "hello from", buildinfo.Get().Version)
}
