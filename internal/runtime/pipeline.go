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
}

// Process attributes e in place and returns its findings.
func (p *Pipeline) Process(ctx context.Context, e *Event) []finding.Finding {
	if e.Kind != KindAccept || e.CgroupID != 0 {
		e.Attribution = p.Resolver.Resolve(ctx, e.CgroupID)
	} else {
		e.Attribution = Attribution{Unknown: true}
	}
	return p.Detector.Evaluate(e)
}
