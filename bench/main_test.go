package bench

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestMain stops the shared control plane that the cluster benchmarks start.
func TestMain(m *testing.M) { testenv.Main(m) }
