// Package clitest holds test helpers for Palisade's binaries: the heap
// their package initialisers allocate before main runs.
package clitest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Init is one package's initialisation, as GODEBUG=inittrace=1 reports it.
type Init struct {
	Package string
	Bytes   int
	Allocs  int
}

// InitTrace runs the calling test binary again with GODEBUG=inittrace=1
// and no test, so only the package initialisers run, and returns what
// each allocated, in the order they ran. A test binary links its
// package's imports, so this is the binary's start-up plus the testing
// packages.
func InitTrace(t *testing.T) []Init {
	t.Helper()
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
	var out []Init
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init PKG @T ms, D ms clock, B bytes, N allocs
		f := strings.Fields(sc.Text())
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		n, err := strconv.Atoi(f[9])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		out = append(out, Init{Package: f[1], Bytes: b, Allocs: n})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no package initialisation traced", exe)
	}
	return out
}

// Module is this module's import path prefix.
const Module = "github.com/palisade-sec/palisade/"

// initHeapCeiling is the most heap a package of this module may allocate
// while it is initialised, before main runs: every start of a binary pays
// it, whatever the command (`palisade version` included). Expressions,
// templates and tables are built on first use (sync.OnceValue) instead.
// Listed packages keep tables that are cheaper to build than to guard.
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

// CheckOwnInitHeap holds every package of this module in inits to its
// ceiling: a regular expression compiled at package level (one with a
// counted repetition costs over 100 KB) fails it. Test helpers are not
// held: they are not in the binaries.
func CheckOwnInitHeap(t *testing.T, inits []Init) {
	t.Helper()
	seen := 0
	for _, in := range inits {
		pkg, ok := strings.CutPrefix(in.Package, Module)
		if !ok {
			continue
		}
		seen++
		if strings.HasSuffix(pkg, "test") || strings.Contains(pkg, "/testenv") {
			continue
		}
		limit, ok := initHeapExceptions[pkg]
		if !ok {
			limit = initHeapCeiling
		}
		if in.Bytes > limit {
			t.Errorf("%s allocates %d bytes (%d allocs) at init, more than %d: build its expressions and tables on first use", pkg, in.Bytes, in.Allocs, limit)
		}
	}
	if seen == 0 {
		t.Fatal("no initialisation of this module's packages traced")
	}
}
