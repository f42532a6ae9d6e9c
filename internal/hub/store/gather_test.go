package store

import (
	"testing"
	"time"
)

// TestGather: a committer holds its group open for the items that arrive
// while another group is being committed, until that one ends; with no
// other group running, or a full group, it starts at once.
func TestGather(t *testing.T) {
	tests := []struct {
		name    string
		running int32
		work    int
		queued  int
		want    int
	}{
		{name: "nothing else running: starts at once", running: 0, work: 1, queued: 3, want: 1},
		{name: "a group full: starts at once", running: 1, work: maxGroupWork, queued: 3, want: 1},
		{name: "another group committing: takes what arrives until it ends", running: 1, work: 1, queued: 3, want: 4},
		{name: "two others committing: the first end is enough", running: 2, work: 1, queued: 5, want: 6},
		{name: "at most maxGroupItems", running: 1, work: 1, queued: maxGroupItems + 5, want: maxGroupItems},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &committer{small: make(chan *commitItem, 2*maxGroupItems), ended: make(chan struct{}, 1), gatherFor: time.Hour}
			c.running.Store(tt.running)
			c.ended <- struct{}{} // a stale signal, from before the group
			for range tt.queued {
				c.small <- &commitItem{work: 1}
			}
			if tt.running > 0 && tt.work < maxGroupWork {
				// The running group ends once the queue has been taken.
				go func() {
					for len(c.small) > max(0, tt.queued+1-maxGroupItems) {
						time.Sleep(time.Millisecond)
					}
					c.ended <- struct{}{}
				}()
			}
			got := c.gather([]*commitItem{{work: tt.work}}, tt.work)
			if len(got) != tt.want {
				t.Fatalf("group of %d items, want %d", len(got), tt.want)
			}
		})
	}
}
