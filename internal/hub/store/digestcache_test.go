package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// cachePods is a snapshot's objects: n pods with findings r1 and r2, but
// for those given other rules.
func cachePods(n int, other map[int][]string) []fleetapi.ObjectFindings {
	var out []fleetapi.ObjectFindings
	for i := range n {
		rules := []string{"r1", "r2"}
		if r, ok := other[i]; ok {
			rules = r
		}
		out = append(out, objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), rules...))
	}
	return out
}

// sameContents: the cluster cs of s has the findings rows of the cluster
// cw of whole, but for generations and times (which depend on the reports
// before), the same counters and digests that match its rows.
func sameContents(t *testing.T, s, whole store.Store, cs, cw, step string) {
	t.Helper()
	got, want := store.AllFindingRows(t, s, cs), store.AllFindingRows(t, whole, cw)
	if g, w := rowContents(got), rowContents(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: %d rows, want %d; first difference: %s", step, len(g), len(w), firstDiff(g, w))
	}
	ctx := context.Background()
	gs, err := s.GetCluster(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := whole.GetCluster(ctx, cw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gs.Findings, gw.Findings) || gs.FindingRows != gw.FindingRows {
		t.Fatalf("%s: counters %v (%d rows), want %v (%d)", step, gs.Findings, gs.FindingRows, gw.Findings, gw.FindingRows)
	}
	checkDigests(t, s, cs, got, step)
}

// cacheMatches: the agent's entry in s's digest cache, if it has one, is
// its cluster's object_digests rows as stored.
func cacheMatches(t *testing.T, s store.Store, agent, cluster, step string) {
	t.Helper()
	rows, c, ok := store.CachedDigests(s, agent)
	if !ok {
		return
	}
	want := store.ObjectDigests(t, s, cluster)
	sort.Strings(want) // as CachedDigests lists them
	if c != cluster || !reflect.DeepEqual(rows, want) {
		t.Fatalf("%s: cached digests of %s\n%s\nstored of %s\n%s", step, c, strings.Join(rows, "\n"), cluster, strings.Join(want, "\n"))
	}
}

// TestDigestCacheSkipsReads: a snapshot after this hub's own reports —
// snapshots, deltas, several in one batch — takes its cluster's object
// digests from the cache instead of reading them back, and stores exactly
// what a hub diffing every snapshot whole stores.
func TestDigestCacheSkipsReads(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, whole := digestAndWhole(t, b.open, 10_000)
			cs, cw := enrolled(t, s, "edge", "ag"), enrolled(t, whole, "edge", "ag")
			delta := func(seq uint64, objs ...fleetapi.ObjectFindings) *fleetapi.Envelope {
				return findingsEnv(seq, false, objs...)
			}
			steps := []struct {
				name  string
				envs  []*fleetapi.Envelope
				reads int64
			}{
				{"first snapshot", []*fleetapi.Envelope{findingsEnv(1, true, cachePods(20, nil)...)}, 1},
				{"snapshot again, one pod changed", []*fleetapi.Envelope{findingsEnv(2, true, cachePods(20, map[int][]string{3: {"r3"}})...)}, 0},
				{"a delta", []*fleetapi.Envelope{delta(3, objFindings("Pod", "shop", "web-4", "r4"), objFindings("Pod", "shop", "web-99", "r1"))}, 0},
				// A delta forgets the cache (afterDigests).
				{"snapshot after the delta, a pod gone", []*fleetapi.Envelope{findingsEnv(4, true, cachePods(19, map[int][]string{3: {"r3"}, 4: {"r4"}})...)}, 1},
				{"a batch: snapshot, snapshot, delta, snapshot", []*fleetapi.Envelope{
					findingsEnv(5, true, cachePods(19, map[int][]string{5: {"r5"}})...),
					findingsEnv(6, true, cachePods(19, map[int][]string{5: {"r5"}, 6: {}})...),
					delta(7, objFindings("Pod", "shop", "web-7", "r7")),
					findingsEnv(8, true, cachePods(18, map[int][]string{5: {"r5"}, 7: {"r7"}})...),
				}, 1},
				{"snapshot unchanged", []*fleetapi.Envelope{findingsEnv(9, true, cachePods(18, map[int][]string{5: {"r5"}, 7: {"r7"}})...)}, 0},
			}
			for i, st := range steps {
				now := t0.Add(time.Duration(i) * time.Minute)
				before := store.DigestReads(s)
				if _, err := s.IngestBatch(ctx, "ag", st.envs, now); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if _, err := whole.IngestBatch(ctx, "ag", st.envs, now); err != nil {
					t.Fatalf("%s (whole): %v", st.name, err)
				}
				if n := store.DigestReads(s) - before; n != st.reads {
					t.Errorf("%s: read the object digests back %d times, want %d", st.name, n, st.reads)
				}
				sameContents(t, s, whole, cs.ID, cw.ID, st.name)
				cacheMatches(t, s, "ag", cs.ID, st.name)
			}
		})
	}
}

// TestDigestCacheInvalidated: each way the database can hold other object
// digests than the ones this hub committed last makes the next snapshot
// read them back, and it stores what a hub diffing every snapshot whole
// stores. Each case leaves the database so that a snapshot taking the
// cached digests would keep stale rows of pod web-1.
func TestDigestCacheInvalidated(t *testing.T) {
	web1 := "Pod/shop/web-1"
	cases := []struct {
		name string
		// pgOnly: SQLite has one hub process (the database is refused
		// by a hub older than it), and a write from outside the hub is
		// not detected there, with or without the cache.
		pgOnly bool
		// meddle changes the database of s (url) after its second
		// snapshot; whole gets the same reports, if any.
		meddle func(t *testing.T, s, whole store.Store, url string)
	}{
		{"another replica wrote the cluster", false, func(t *testing.T, s, whole store.Store, url string) {
			r, err := store.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			env := findingsEnv(3, false, objFindings("Pod", "shop", "web-1", "r3"))
			for _, st := range []store.Store{r, whole} {
				if _, err := st.Ingest(context.Background(), "ag", env, t0.Add(3*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"a replica of a hub before migration 18 (gen moved, tag kept) wrote the cluster", false, func(t *testing.T, s, whole store.Store, url string) {
			store.ExecOutside(t, s, true,
				`DELETE FROM findings WHERE object_key = '`+web1+`'`,
				`DELETE FROM object_digests WHERE object_key = '`+web1+`'`,
				`UPDATE clusters SET gen = gen + 1`)
		}},
		{"an operator's SQL deleted findings rows", true, func(t *testing.T, s, whole store.Store, url string) {
			store.ExecOutside(t, s, false, `DELETE FROM findings WHERE object_key = '`+web1+`'`)
		}},
		{"a restored database (same gen, rows and digests of another state)", false, func(t *testing.T, s, whole store.Store, url string) {
			store.ExecOutside(t, s, true,
				`DELETE FROM findings WHERE object_key = '`+web1+`'`,
				`DELETE FROM object_digests WHERE object_key = '`+web1+`'`,
				`UPDATE clusters SET digests_tag = 12345`)
		}},
		{"a batch rolled back after its snapshot", false, func(t *testing.T, s, whole store.Store, url string) {
			over := objFindings("Pod", "shop", "web-big")
			for i := range 200 {
				over.Findings = append(over.Findings, fnd("Pod", "shop", "web-big", fmt.Sprintf("q%d", i), 3))
			}
			envs := []*fleetapi.Envelope{findingsEnv(3, true, cachePods(20, map[int][]string{1: {"r9"}})...), findingsEnv(4, false, over)}
			if _, err := s.IngestBatch(context.Background(), "ag", envs, t0.Add(3*time.Minute)); !errors.Is(err, store.ErrQuota) {
				t.Fatalf("batch over the quota: %v", err)
			}
		}},
	}
	for _, b := range backendURLs {
		for _, c := range cases {
			if c.pgOnly && b.name != "postgres" {
				continue
			}
			t.Run(b.name+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				url := b.url(t)
				s, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				whole, err := store.Open(ctx, b.url(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close(); whole.Close() })
				store.DisableObjectDigests(whole)
				limits := store.DefaultIngestLimits()
				limits.FindingsPerCluster = 100
				s.SetIngestLimits(limits)
				whole.SetIngestLimits(limits)
				cs, cw := enrolled(t, s, "edge", "ag"), enrolled(t, whole, "edge", "ag")
				snap := func(seq uint64, other map[int][]string) {
					t.Helper()
					env := findingsEnv(seq, true, cachePods(20, other)...)
					now := t0.Add(time.Duration(seq) * time.Minute)
					for _, st := range []store.Store{s, whole} {
						if _, err := st.Ingest(ctx, "ag", env, now); err != nil {
							t.Fatal(err)
						}
					}
				}
				snap(1, nil)
				snap(2, map[int][]string{0: {"r3"}})
				c.meddle(t, s, whole, url)
				before := store.DigestReads(s)
				snap(10, map[int][]string{0: {"r3"}})
				if n := store.DigestReads(s) - before; n != 1 {
					t.Errorf("the snapshot after it read the object digests back %d times, want 1", n)
				}
				sameContents(t, s, whole, cs.ID, cw.ID, c.name)
				// And the cache serves the next one again.
				before = store.DigestReads(s)
				snap(11, map[int][]string{0: {"r3"}, 2: {"r4"}})
				if n := store.DigestReads(s) - before; n != 0 {
					t.Errorf("the snapshot after that read the object digests back %d times, want 0", n)
				}
				sameContents(t, s, whole, cs.ID, cw.ID, c.name+", then a snapshot")
			})
		}
	}
}

// TestMigration18Upgrades: a database at schema 17 holding a cluster's
// findings and object digests is upgraded to 18 on both backends; the
// rows are kept, the first snapshot reads the digests back, the next
// takes them from the cache, and both store what a hub diffing every
// snapshot whole stores.
func TestMigration18Upgrades(t *testing.T) {
	for _, b := range backendURLs {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url := b.url(t)
			s, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			whole := backends[0].open(t)
			defer whole.Close()
			store.DisableObjectDigests(whole)
			cs, cw := enrolled(t, s, "edge", "ag"), enrolled(t, whole, "edge", "ag")
			apply := func(st store.Store, seq uint64, other map[int][]string) {
				t.Helper()
				if _, err := st.Ingest(ctx, "ag", findingsEnv(seq, true, cachePods(20, other)...), t0.Add(time.Duration(seq)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			for _, st := range []store.Store{s, whole} {
				apply(st, 1, nil)
			}
			store.DowngradeTo17(t, s)
			rows, digests := store.AllFindingRows(t, s, cs.ID), store.ObjectDigests(t, s, cs.ID)
			s.Close()
			if s, err = store.Open(ctx, url); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != 18 || store.LatestSchemaVersion() != 18 {
				t.Fatalf("schema %d, %v; want 18", v, err)
			}
			if got := store.AllFindingRows(t, s, cs.ID); !reflect.DeepEqual(got, rows) {
				t.Fatalf("findings rows changed by the upgrade: %s", firstDiff(got, rows))
			}
			if got := store.ObjectDigests(t, s, cs.ID); !reflect.DeepEqual(got, digests) {
				t.Fatalf("object digests changed by the upgrade")
			}
			for i, reads := range []int64{1, 0} {
				before := store.DigestReads(s)
				other := map[int][]string{i: {"r5"}}
				apply(s, uint64(2+i), other)
				apply(whole, uint64(2+i), other)
				if n := store.DigestReads(s) - before; n != reads {
					t.Errorf("snapshot %d after the upgrade read the digests back %d times, want %d", i+1, n, reads)
				}
				sameContents(t, s, whole, cs.ID, cw.ID, fmt.Sprintf("snapshot %d after the upgrade", i+1))
			}
		})
	}
}
