package agent

import (
	"io"
	"log/slog"
	"testing"
)

// testAgent is the tests' Agent: New's defaults and wiring (assemble),
// without the I/O New does (identity, enrolment, outbox, watch); tests set
// the hub client, outbox and identity they need. A quiet logger unless
// cfg names one.
func testAgent(t testing.TB, cfg Config) *Agent {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg, err := withDefaults(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return assemble(cfg, nil)
}
