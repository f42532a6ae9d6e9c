package agent

import (
	"context"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// evalOptions is what an evaluation applies: the selected rules, the
// settings rules read, and policy exceptions. It mirrors scan.Options
// without importing internal/scan, which links the Helm and kustomize
// renderers the agent never uses (the slim agent binary stays small; see
// docs/fleet.md, "Memory").
type evalOptions struct {
	Rules      *rule.Set
	Settings   rule.Settings
	Exceptions []rule.Exception
	// Now decides whether exceptions have expired; zero means time.Now.
	Now time.Time
}

// evaluateInventory runs the rules over inv and applies exemptions, as
// scan.Evaluate does for a live-cluster scan, and returns the findings
// sorted.
func evaluateInventory(ctx context.Context, inv *workload.Inventory, opts evalOptions) ([]finding.Finding, error) {
	c := rule.NewContext(inv, opts.Settings, opts.Rules)
	fs, err := opts.Rules.Evaluate(ctx, c, nil)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	_ = rule.ApplyExemptions(fs, opts.Rules, inv, opts.Exceptions, now)
	finding.Sort(fs)
	return fs, nil
}
