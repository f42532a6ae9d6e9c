package main

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/cli/clitest"
)

// TestPackageInitHeap runs this test binary again with
// GODEBUG=inittrace=1 and no test, so only the package initialisers run,
// and holds every package of this module to its ceiling
// (clitest.CheckOwnInitHeap): every start of the binary pays it.
func TestPackageInitHeap(t *testing.T) {
	clitest.CheckOwnInitHeap(t, clitest.InitTrace(t))
}
