package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// initHeapCeiling is the most heap a package of this module may allocate
// while it is initialised, before main runs: every start of the binary
// pays it, whatever the command (`palisade version` included).
// Expressions, templates and tables are built on first use
// (sync.OnceValue) instead. Listed packages keep tables that are cheaper
// to build than to guard.
const initHeapCeiling = 8 << 10

var initHeapExceptions = map[string]int{
	// client-go's scheme registration of the kinds the inventory knows.
	"internal/workload": 48 << 10,
	// The CVSS weight tables, read by every finding's severity.
	"internal/vulnmatch": 32 << 10,
	// A pooled 24 KiB window for inflate.
	"internal/inflate": 32 << 10,
	"internal/agent":   24 << 10,
}

// TestPackageInitHeap runs this test binary again with
// GODEBUG=inittrace=1 and no test, so only the package initialisers run,
// and holds every package of this module to its ceiling: a regular
// expression compiled at package level (one with a counted repetition
// costs over 100 KB) fails it.
func TestPackageInitHeap(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", exe, err, stderr.String())
	}
	const own = "github.com/palisade-sec/palisade/"
	seen := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init PKG @T ms, D ms clock, B bytes, N allocs
		f := strings.Fields(sc.Text())
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		pkg, ok := strings.CutPrefix(f[1], own)
		if !ok {
			continue
		}
		seen++
		if strings.HasSuffix(pkg, "test") || strings.Contains(pkg, "/testenv") {
			continue // test helpers, not in the binary
		}
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		limit, ok := initHeapExceptions[pkg]
		if !ok {
			limit = initHeapCeiling
		}
		if b > limit {
			t.Errorf("%s allocates %d bytes (%s allocs) at init, more than %d: build its expressions and tables on first use", pkg, b, f[9], limit)
		}
	}
	if seen == 0 {
		t.Fatal("no initialisation of this module's packages traced")
	}
}
