package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// digestModel is an agent's view of its cluster for the random report
// sequences: objects by name, each with its findings.
type digestModel struct {
	rng     *rand.Rand
	objects map[string][]finding.Finding
	next    int
}

func (m *digestModel) ref(name string) finding.ObjectRef {
	return finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: name}
}

func (m *digestModel) newFinding(name string) finding.Finding {
	m.next++
	ref := m.ref(name)
	return finding.Finding{RuleID: fmt.Sprintf("r%d", m.rng.IntN(6)), Severity: finding.Severity(1 + m.rng.IntN(4)), Title: "T",
		Message: fmt.Sprintf("finding %d of %s", m.next, name), Object: ref, Container: "app", Remediation: "Fix it."}
}

func (m *digestModel) newObject() string {
	m.next++
	name := fmt.Sprintf("web-%d", m.next)
	for range m.rng.IntN(5) {
		m.objects[name] = append(m.objects[name], m.newFinding(name))
	}
	return name
}

func (m *digestModel) pick() string {
	names := m.names()
	if len(names) == 0 {
		return m.newObject()
	}
	return names[m.rng.IntN(len(names))]
}

func (m *digestModel) names() []string {
	var names []string
	for n := range m.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// mutate changes an object the way workloads change: a finding's data
// (title, severity, suppression: same key, new hash), a finding added,
// gone or duplicated with other data, all gone.
func (m *digestModel) mutate(name string) {
	fs := m.objects[name]
	switch op := m.rng.IntN(7); {
	case op == 0 && len(fs) > 0:
		fs[m.rng.IntN(len(fs))].Title = fmt.Sprintf("T%d", m.rng.IntN(3))
	case op == 1 && len(fs) > 0:
		f := &fs[m.rng.IntN(len(fs))]
		f.Suppressed = !f.Suppressed
	case op == 2 && len(fs) > 0:
		fs[m.rng.IntN(len(fs))].Severity = finding.Severity(1 + m.rng.IntN(4))
	case op == 3 && len(fs) > 0:
		i := m.rng.IntN(len(fs))
		fs = append(fs[:i:i], fs[i+1:]...)
	case op == 4 && len(fs) > 0:
		d := fs[m.rng.IntN(len(fs))]
		d.Remediation = "Another way." // the same key twice: the first one is kept
		fs = append(fs, d)
	case op == 5:
		fs = nil
	default:
		fs = append(fs, m.newFinding(name))
	}
	m.objects[name] = fs
}

func (m *digestModel) object(name string) fleetapi.ObjectFindings {
	return fleetapi.ObjectFindings{Object: m.ref(name), Findings: append([]finding.Finding{}, m.objects[name]...)}
}

// report is the next report: a snapshot (after some changes) or a delta
// naming the objects changed, added and deleted.
func (m *digestModel) report() *fleetapi.FindingsDelta {
	if m.rng.IntN(3) == 0 {
		for range m.rng.IntN(4) {
			m.mutate(m.pick())
		}
		for range m.rng.IntN(3) {
			m.newObject()
		}
		if m.rng.IntN(3) == 0 && len(m.objects) > 0 {
			delete(m.objects, m.pick())
		}
		d := &fleetapi.FindingsDelta{Full: true}
		for _, n := range m.names() {
			d.Objects = append(d.Objects, m.object(n))
		}
		if m.rng.IntN(5) == 0 && len(d.Objects) > 0 { // an object named twice
			d.Objects = append(d.Objects, d.Objects[m.rng.IntN(len(d.Objects))])
		}
		return d
	}
	d := &fleetapi.FindingsDelta{}
	for range 1 + m.rng.IntN(3) {
		n := m.pick()
		m.mutate(n)
		d.Objects = append(d.Objects, m.object(n))
	}
	for range m.rng.IntN(2) {
		d.Objects = append(d.Objects, m.object(m.newObject()))
	}
	if m.rng.IntN(3) == 0 && len(m.objects) > 0 {
		n := m.pick()
		delete(m.objects, n)
		d.Deleted = append(d.Deleted, m.ref(n))
	}
	return d
}

// TestObjectDigestsStoreTheSame: random sequences of snapshots and deltas
// (findings changed in place, added, gone, duplicated; objects added,
// emptied, deleted, named twice; time jumps past the hourly last_seen
// refresh; batches of several reports; a findings quota some reports run
// into) applied by a store that keeps object digests and by one that
// diffs every snapshot whole (the path before migration 16) leave
// exactly the same findings rows — every column — counters and rows
// count, and the same reports refused; and the digests kept are those of
// the stored rows.
func TestObjectDigestsStoreTheSame(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			digests, whole := digestAndWhole(t, b.open, 80)
			seeds := 5
			refused, byDigest := 0, 0
			for seed := range seeds {
				cluster := fmt.Sprintf("edge-%d", seed)
				agent := fmt.Sprintf("ag-%d", seed)
				cd, cw := enrolled(t, digests, cluster, agent), enrolled(t, whole, cluster, agent)
				m := &digestModel{rng: rand.New(rand.NewPCG(uint64(seed), 16)), objects: map[string][]finding.Finding{}}
				for range 20 {
					m.newObject()
				}
				now, seq := t0, uint64(0)
				for step := range 60 {
					now = now.Add([]time.Duration{0, time.Minute, 20 * time.Minute, 61 * time.Minute}[m.rng.IntN(4)])
					var envs, envs2 []*fleetapi.Envelope
					for range 1 + m.rng.IntN(2)*m.rng.IntN(3) {
						seq++
						d := m.report()
						envs = append(envs, &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: d})
						envs2 = append(envs2, &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: d})
					}
					read := store.DiffRows(digests)
					_, errD := digests.IngestBatch(ctx, agent, envs, now)
					readWhole := store.DiffRows(whole)
					_, errW := whole.IngestBatch(ctx, agent, envs2, now)
					if (errD == nil) != (errW == nil) || errD != nil && !errors.Is(errD, store.ErrQuota) {
						t.Fatalf("seed %d, step %d: %v with object digests, %v without", seed, step, errD, errW)
					}
					if errD != nil {
						refused++
					} else if store.DiffRows(digests)-read < store.DiffRows(whole)-readWhole {
						byDigest++
					}
					sameAsWhole(t, digests, whole, cd.ID, cw.ID, fmt.Sprintf("seed %d, step %d", seed, step))
					cacheMatches(t, digests, agent, cd.ID, fmt.Sprintf("seed %d, step %d", seed, step))
				}
			}
			// The sequences exercise both outcomes and the shortcut.
			if refused == 0 || byDigest == 0 {
				t.Fatalf("%d reports refused over the quota, %d snapshots read back fewer rows: the sequences miss a case", refused, byDigest)
			}
			t.Logf("%d batches refused over the quota, %d read back fewer rows by their digests", refused, byDigest)
		})
	}
}

// digestAndWhole opens two stores with open and a findings quota of
// perCluster rows: one keeping object digests, one diffing every snapshot
// whole (the path before migration 16).
func digestAndWhole(t *testing.T, open func(*testing.T) store.Store, perCluster int64) (digests, whole store.Store) {
	digests, whole = open(t), open(t)
	t.Cleanup(func() { digests.Close(); whole.Close() })
	store.DisableObjectDigests(whole)
	limits := store.DefaultIngestLimits()
	limits.FindingsPerCluster = perCluster
	digests.SetIngestLimits(limits)
	whole.SetIngestLimits(limits)
	return digests, whole
}

// sameAsWhole: the cluster cd of digests has exactly the findings rows
// (every column), counters and rows count of the cluster cw of whole,
// and digests that match its rows.
func sameAsWhole(t *testing.T, digests, whole store.Store, cd, cw, step string) {
	t.Helper()
	ctx := context.Background()
	got, want := store.AllFindingRows(t, digests, cd), store.AllFindingRows(t, whole, cw)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %d rows with object digests, %d without; first difference: %s", step, len(got), len(want), firstDiff(got, want))
	}
	gd, err := digests.GetCluster(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := whole.GetCluster(ctx, cw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gd.Findings, gw.Findings) || gd.FindingRows != gw.FindingRows {
		t.Fatalf("%s: counters %v (%d rows) with object digests, %v (%d) without", step, gd.Findings, gd.FindingRows, gw.Findings, gw.FindingRows)
	}
	checkDigests(t, digests, cd, got, step)
}

// checkDigests: when the cluster's digests are complete, they are one
// per object with findings rows, each the digest of the rows' data
// hashes and their oldest last_seen (rows: AllFindingRows).
func checkDigests(t *testing.T, s store.Store, cluster string, rows []string, step string) {
	t.Helper()
	ds := store.ObjectDigests(t, s, cluster)
	if len(ds) == 0 || !strings.HasPrefix(ds[0], "|complete|") {
		return
	}
	type obj struct {
		hashes []string
		seen   int64
	}
	objs := map[string]*obj{}
	var keys []string
	for _, r := range rows {
		f := strings.Split(r, "|")
		okey, dhash := f[0], f[len(f)-1]
		var seen int64
		fmt.Sscan(f[len(f)-2], &seen)
		o := objs[okey]
		if o == nil {
			o = &obj{seen: seen}
			objs[okey] = o
			keys = append(keys, okey)
		}
		o.hashes = append(o.hashes, dhash)
		o.seen = min(o.seen, seen)
	}
	want := []string{ds[0]}
	for _, k := range keys {
		o := objs[k]
		sort.Strings(o.hashes)
		sum := sha256.Sum256([]byte(strings.Join(o.hashes, "")))
		want = append(want, fmt.Sprintf("%s|%s|%d", k, hex.EncodeToString(sum[:16]), o.seen))
	}
	if !reflect.DeepEqual(ds, want) {
		t.Fatalf("%s: object digests\n%s\nwant (from the rows)\n%s", step, strings.Join(ds, "\n"), strings.Join(want, "\n"))
	}
}

// TestSnapshotReadsChangedObjectsOnly: a snapshot again with two of 100
// pods changed and one gone reads back only those objects' rows, and
// unchanged none (TestMigration16Upgrades: the first snapshot after the
// upgrade, before the cluster has digests, reads it whole).
func TestSnapshotReadsChangedObjectsOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "edge", "ag")
		var pods []fleetapi.ObjectFindings
		for i := range 100 {
			pods = append(pods, objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), "r1", "r2", "r3"))
		}
		snap := func(seq uint64, objs []fleetapi.ObjectFindings) int64 {
			t.Helper()
			before := store.DiffRows(s)
			if _, err := s.Ingest(ctx, "ag", findingsEnv(seq, true, objs...), t0); err != nil {
				t.Fatal(err)
			}
			return store.DiffRows(s) - before
		}
		if n := snap(1, pods); n != 0 {
			t.Fatalf("first snapshot read %d rows", n)
		}
		if n := snap(2, pods); n != 0 {
			t.Fatalf("snapshot again unchanged read %d rows", n) // 300 before migration 16
		}
		again := append([]fleetapi.ObjectFindings{}, pods[1:]...)
		again[0] = objFindings("Pod", "shop", "web-1", "r1", "r2")
		again[1] = objFindings("Pod", "shop", "web-2", "r1", "r2", "r3", "r4")
		if n := snap(3, again); n != 9 {
			t.Fatalf("snapshot again with 2 pods changed and 1 gone read %d rows, want their 9", n)
		}
		if n := snap(4, again); n != 0 {
			t.Fatalf("snapshot again unchanged read %d rows", n)
		}
	})
}

// TestMigration16Upgrades: a database at schema 15 holding a cluster's
// findings is upgraded; the snapshots after it store what a hub without
// object digests stores, the first read whole, the next by digest.
func TestMigration16Upgrades(t *testing.T) {
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
			c, cw := enrolled(t, s, "edge", "ag"), enrolled(t, whole, "edge", "ag")
			var pods []fleetapi.ObjectFindings
			for i := range 20 {
				pods = append(pods, objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), "r1", "r2"))
			}
			apply := func(s store.Store, seq uint64, full bool, objs []fleetapi.ObjectFindings) {
				t.Helper()
				if _, err := s.Ingest(ctx, "ag", findingsEnv(seq, full, objs...), t0.Add(time.Duration(seq)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			for _, st := range []store.Store{s, whole} {
				apply(st, 1, true, pods)
			}
			store.DowngradeTo15(t, s)
			s.Close()
			if s, err = store.Open(ctx, url); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != store.LatestSchemaVersion() {
				t.Fatalf("schema %d, %v; want %d", v, err, store.LatestSchemaVersion())
			}
			steps := []struct {
				full bool
				objs []fleetapi.ObjectFindings
				read int64 // rows read back by the diff
			}{
				{false, []fleetapi.ObjectFindings{objFindings("Pod", "shop", "web-3", "r1")}, 2},
				{true, append(pods[1:5:5], objFindings("Pod", "shop", "web-new", "r3")), 40 - 1}, // whole: 39 rows stored
				{true, append(pods[1:4:4], objFindings("Pod", "shop", "web-new", "r3", "r4")), 2 + 1},
			}
			for i, st := range steps {
				before := store.DiffRows(s)
				apply(s, uint64(2+i), st.full, st.objs)
				apply(whole, uint64(2+i), st.full, st.objs)
				if n := store.DiffRows(s) - before; n != st.read {
					t.Errorf("report %d after the upgrade read %d rows, want %d", i, n, st.read)
				}
				got, want := store.AllFindingRows(t, s, c.ID), store.AllFindingRows(t, whole, cw.ID)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("report %d after the upgrade: %d rows, want %d; first difference: %s", i, len(got), len(want), firstDiff(got, want))
				}
				checkDigests(t, s, c.ID, got, fmt.Sprintf("report %d", i))
			}
		})
	}
}
