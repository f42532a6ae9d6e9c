// Command gobin is a fixture: a Go binary with one dependency from the
// module proxy and one local replacement, for the build information
// readers' tests.
package main

import (
	"fmt"

	"example.com/palisade/local"
	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte(local.Name)))
}
