package auditlog_test

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
