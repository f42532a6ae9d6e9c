package admission

import (
	"context"
	"fmt"

	"github.com/palisade-sec/palisade/internal/workload"
)

// Defaults of the webhook's bounds (Options override them). A review names
// at most MaxContainers containers (containers, initContainers and
// ephemeralContainers together) and is at most MaxReviewBytes long; its
// distinct images are checked ReviewConcurrency at a time, and all reviews
// together hold at most GlobalConcurrency registry or scanner checks.
const (
	DefaultMaxContainers     = 256
	DefaultReviewConcurrency = 8
	DefaultGlobalConcurrency = 32
)

// limits bound the work one review, and all reviews together, can cause.
type limits struct {
	maxContainers int
	perReview     int
	global        chan struct{}
}

func newLimits(maxContainers, perReview, global int) *limits {
	if maxContainers <= 0 {
		maxContainers = DefaultMaxContainers
	}
	if perReview <= 0 {
		perReview = DefaultReviewConcurrency
	}
	if global <= 0 {
		global = DefaultGlobalConcurrency
	}
	return &limits{maxContainers: maxContainers, perReview: perReview, global: make(chan struct{}, global)}
}

func (l *limits) reviewConcurrency() int {
	if l == nil {
		return DefaultReviewConcurrency
	}
	return l.perReview
}

// acquire takes a global slot, or gives up when ctx ends first.
func (l *limits) acquire(ctx context.Context) bool {
	if l == nil {
		return true
	}
	select {
	case l.global <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *limits) release() {
	if l != nil {
		<-l.global
	}
}

// checkSize refuses a pod spec with more containers than the limit,
// naming the limit, before any rule or registry sees it.
func (l *limits) checkSize(w *workload.Workload) error {
	max := DefaultMaxContainers
	if l != nil {
		max = l.maxContainers
	}
	if n := len(workload.Containers(w.Spec)); n > max {
		return fmt.Errorf("the pod spec has %d containers (containers, initContainers and ephemeralContainers together), over the webhook's limit of %d", n, max)
	}
	return nil
}
