// Command vulnapp-nosym is built by the reachability tests: it imports
// golang.org/x/text/language, vulnerable at v0.3.5, but calls none of
// the vulnerable functions (Parse, MustParse, MatchStrings,
// ParseAcceptLanguage).
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	fmt.Println(language.English.String())
}
