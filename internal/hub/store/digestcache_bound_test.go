package store

import (
	"strings"
	"testing"
)

// TestDigestCacheBoundsBytes: the cache's bound counts the rows' bytes,
// not their number, so one agent's long object names cannot pin more
// than the bound (the auditor's case: 100 objects of 300 KB names each
// fitted a row bound of 131,072 rows and held about 30 MB per agent).
func TestDigestCacheBoundsBytes(t *testing.T) {
	rows := func(n, nameLen int, tag string) map[string]objectDigest {
		m := map[string]objectDigest{}
		for i := range n {
			k := "Pod/ns/" + tag + strings.Repeat("x", nameLen) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
			m[k] = objectDigest{okey: k, digest: strings.Repeat("d", 64), seen: 1}
		}
		return m
	}
	const max = 64 << 10
	tests := []struct {
		name    string
		publish []map[string]objectDigest
		want    []bool // which agents stay cached
	}{
		{"small clusters fit", []map[string]objectDigest{rows(10, 10, "a"), rows(10, 10, "b")}, []bool{true, true}},
		{"one cluster of long names over the bound is not cached", []map[string]objectDigest{rows(3, 20<<10, "a")}, []bool{false}},
		{"few rows, many bytes: older clusters make room", []map[string]objectDigest{rows(2, 12<<10, "a"), rows(2, 12<<10, "b"), rows(2, 12<<10, "c")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newDigestCache(max)
			agents := []string{"agent-a", "agent-b", "agent-c"}
			for i, r := range tt.publish {
				c.publish(agents[i], "cluster-"+agents[i], 2, 7, r)
				if c.bytes > c.max {
					t.Fatalf("after %s: %d bytes cached, bound %d", agents[i], c.bytes, c.max)
				}
			}
			sum := 0
			for _, e := range c.clusters {
				sum += e.cost
			}
			if sum != c.bytes {
				t.Errorf("bytes %d, entries cost %d", c.bytes, sum)
			}
			for i, want := range tt.want {
				if _, got := c.clusters[agents[i]]; got != want {
					t.Errorf("%s cached %v, want %v", agents[i], got, want)
				}
			}
			if tt.want == nil && len(c.clusters) == len(tt.publish) {
				t.Errorf("all %d clusters cached (%d bytes) past the bound", len(c.clusters), c.bytes)
			}
			for _, a := range agents {
				c.drop(a)
			}
			if c.bytes != 0 {
				t.Errorf("%d bytes left after dropping every cluster", c.bytes)
			}
		})
	}
}
