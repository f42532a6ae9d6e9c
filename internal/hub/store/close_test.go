package store_test

import (
	"sync"
	"testing"
)

// TestCloseTwice: a store closed twice, or by two goroutines at once (a
// signal handler and a deferred Close), stops its goroutines once and
// neither panics nor races (run with -race).
func TestCloseTwice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { _ = s.Close() })
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Errorf("Close after Close: %v", err)
			}
		})
	}
}
