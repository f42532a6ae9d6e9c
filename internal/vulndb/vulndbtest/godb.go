// Package vulndbtest provides real vulnerability data to tests and
// benchmarks: the Go vulnerability database, fetched with the Go tool.
package vulndbtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoVulnDBModule is the pinned version of golang.org/x/vulndb whose
// data/osv holds the whole Go vulnerability database as OSV JSON (4,789
// records). The module proxy lists no versions of it, so it is pinned by
// pseudo-version.
const GoVulnDBModule = "golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018"

// GoVulnDB returns the directory of the Go vulnerability database's OSV
// records, downloading the module with `go mod download` (into the module
// cache, so only once per machine). The test is skipped when the Go tool
// or the module proxy is not available and PALISADE_REQUIRE_NETWORK_DATA
// is unset.
func GoVulnDB(tb testing.TB) string {
	tb.Helper()
	dir, err := download(GoVulnDBModule)
	if err != nil {
		if os.Getenv("PALISADE_REQUIRE_NETWORK_DATA") != "" {
			tb.Fatalf("download %s: %v", GoVulnDBModule, err)
		}
		tb.Skipf("download %s: %v", GoVulnDBModule, err)
	}
	osv := filepath.Join(dir, "data", "osv")
	if _, err := os.Stat(osv); err != nil {
		tb.Fatalf("%s: %v", GoVulnDBModule, err)
	}
	return osv
}

func download(module string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	// Outside any module, so the download never touches a go.mod.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &downloadError{err: err, stderr: stderr.String() + string(out)}
	}
	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", &downloadError{stderr: info.Error}
	}
	return info.Dir, nil
}

type downloadError struct {
	err    error
	stderr string
}

func (e *downloadError) Error() string {
	if e.err == nil {
		return e.stderr
	}
	return e.err.Error() + ": " + e.stderr
}
