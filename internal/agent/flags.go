package agent

import (
	"time"

	"github.com/spf13/pflag"
)

// Flags are the command-line settings of `palisade agent run` and of the
// slim palisade-agent binary, bound once here so both accept the same
// flags.
type Flags struct {
	Config
	// OutboxMiB is Config.OutboxMaxBytes in MiB.
	OutboxMiB int64
}

// Bind registers the flags on fs.
func (f *Flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.HubURL, "hub", "", "hub URL (https://host:port)")
	fs.StringVar(&f.Token, "token", "", "single-use bootstrap token (or PALISADE_AGENT_TOKEN)")
	fs.StringVar(&f.CAFingerprint, "hub-ca-fingerprint", "", "sha256:… fingerprint of the hub CA ('palisade hub token create' prints it)")
	fs.StringVar(&f.StateDir, "state-dir", "/var/lib/palisade-agent", "identity, outbox and bundle cache")
	fs.Int64Var(&f.OutboxMiB, "outbox-max-mib", 64, "outbox size limit; the oldest reports are dropped (and counted) beyond it")
	fs.DurationVar(&f.Debounce, "debounce", 2*time.Second, "wait for changes to settle before evaluating")
	fs.DurationVar(&f.HeartbeatInterval, "heartbeat", 30*time.Second, "heartbeat interval")
	fs.IntVar(&f.ScanConcurrency, "scan-concurrency", 2, "image scans run in parallel")
}

// Resolve completes the configuration after parsing: the token from
// PALISADE_AGENT_TOKEN when not given, and the outbox size in bytes.
func (f *Flags) Resolve(getenv func(string) string) Config {
	c := f.Config
	if c.Token == "" {
		c.Token = getenv("PALISADE_AGENT_TOKEN")
	}
	c.OutboxMaxBytes = f.OutboxMiB << 20
	return c
}
