// Command vulnapp is built by the vulnmatch tests against an old,
// vulnerable golang.org/x/text, whose advisories the matcher must find in
// the binary's build information.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(tag, err)
}
