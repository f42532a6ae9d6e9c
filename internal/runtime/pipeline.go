package runtime

import (
	"context"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Pipeline attributes and evaluates events; it is what both the sensor and
// recorded events (tests, replays) feed. Not safe for concurrent use.
type Pipeline struct {
	Resolver *Resolver
	Detector *Detector
	// Observer, when set, aggregates the attributed events into the
	// workloads' observations (learned profiles).
	Observer *Observer
}

// Process attributes e in place and returns its findings. An accept
// carries the accepted socket's cgroup (the listener's); cgroup id 0
// resolves to unknown.
func (p *Pipeline) Process(ctx context.Context, e *Event) []finding.Finding {
	e.Attribution = p.Resolver.Resolve(ctx, e.CgroupID)
	if p.Observer != nil {
		p.Observer.Observe(e)
	}
	return p.Detector.Evaluate(e)
}
