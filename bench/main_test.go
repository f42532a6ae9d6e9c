package bench

import (
	"os"
	"testing"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestMain stops the shared control plane that the cluster benchmarks
// start. Started with PALISADE_RUNTIME_LOADGEN set, the test binary is
// instead the runtime benchmarks' load generator (runtime_load_test.go).
func TestMain(m *testing.M) {
	if spec := os.Getenv(loadGenEnv); spec != "" {
		os.Exit(runLoadGenerator(spec))
	}
	testenv.Main(m)
}
