package runtimenode

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestMain stops the shared control plane of the e2e tests after them.
func TestMain(m *testing.M) { testenv.Main(m) }
