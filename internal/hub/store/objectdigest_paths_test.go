package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestObjectDigestsBesideOtherWriters: every other path of the hub that
// writes to a cluster's rows — a second agent of the same cluster (an
// agent re-enrolled while the old one still reports), revocation and
// re-enrolment, the retention prunes, group commits holding several
// reports of the cluster (two snapshots, a refused batch beside good
// ones), and the other report kinds — interleaved with snapshots and
// deltas leaves, after every step, exactly the findings rows, counters
// and refusals of a hub that diffs every snapshot whole, and digests that
// match the rows (checkDigests). The one statement-level guard that no
// other code writes findings is TestOnlyFindingsReportsWriteFindings.
func TestObjectDigestsBesideOtherWriters(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			digests, whole := digestAndWhole(t, b.open, 120)
			type side struct {
				s store.Store
				c store.Cluster
			}
			sides := [2]*side{{s: digests}, {s: whole}}
			for _, sd := range sides {
				sd.c = enrolled(t, sd.s, "edge", "ag-0")
			}
			m := &digestModel{rng: rand.New(rand.NewPCG(7, 17)), objects: map[string][]finding.Finding{}}
			for range 25 {
				m.newObject()
			}
			agents := []string{"ag-0"}
			seqs := map[string]uint64{}
			now := t0
			enrol := func(agent string) {
				for _, sd := range sides {
					tok := store.BootstrapToken{ID: "tok-" + agent, ClusterID: sd.c.ID, Hash: hash("secret-" + agent), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					if err := sd.s.CreateBootstrapToken(ctx, tok); err != nil {
						t.Fatal(err)
					}
					if _, err := sd.s.EnrollAgent(ctx, tok.ID, tok.Hash, store.Agent{ID: agent}, now); err != nil {
						t.Fatal(err)
					}
				}
				agents = append(agents, agent)
			}
			envelope := func(agent string, d *fleetapi.FindingsDelta) [2]*fleetapi.Envelope {
				seqs[agent]++
				var out [2]*fleetapi.Envelope
				for i := range out {
					out[i] = &fleetapi.Envelope{Seq: seqs[agent], Time: now, Kind: fleetapi.KindFindings, Findings: d}
				}
				return out
			}
			// compare checks both stores agree after a step; errs are
			// the step's outcomes on each.
			compare := func(step string, errD, errW error) {
				t.Helper()
				if (errD == nil) != (errW == nil) || errD != nil && !errors.Is(errD, store.ErrQuota) {
					t.Fatalf("%s: %v with object digests, %v without", step, errD, errW)
				}
				sameAsWhole(t, digests, whole, sides[0].c.ID, sides[1].c.ID, step)
			}
			other := []struct {
				name string
				do   func(s store.Store, c store.Cluster) error
			}{
				{"inventory", func(s store.Store, c store.Cluster) error {
					a := agents[len(agents)-1]
					seqs[a]++ // both sides: undone below
					_, err := s.Ingest(ctx, a, &fleetapi.Envelope{Seq: seqs[a], Time: now, Kind: fleetapi.KindInventory,
						Inventory: &fleetapi.Inventory{KubernetesVersion: "v1.37.2", Rules: []string{"r1", "r2"}}}, now)
					seqs[a]--
					return err
				}},
				{"images", func(s store.Store, c store.Cluster) error {
					a := agents[len(agents)-1]
					seqs[a]++
					_, err := s.Ingest(ctx, a, &fleetapi.Envelope{Seq: seqs[a], Time: now, Kind: fleetapi.KindImages,
						Images: &fleetapi.ImageSet{Images: []fleetapi.ImageUse{{Ref: "nginx:1", Digest: "sha256:" + fmt.Sprint(seqs[a]), Workloads: 1}}}}, now)
					seqs[a]--
					return err
				}},
				{"retention prunes", func(s store.Store, c store.Cluster) error {
					far := now.Add(1000 * time.Hour)
					r := store.Retention{PerCluster: 1, MaxAge: time.Minute, MaxDeletes: 1000}
					_, e1 := s.PruneAdmissionEvents(ctx, c.ID, r, far)
					_, e2 := s.PruneRuntimeFindings(ctx, c.ID, r, far)
					_, e3 := s.PruneImageScans(ctx, store.ImageScanRetention{Unused: time.Minute, PerCluster: 1, MaxDeletes: 1000}, far)
					_, e4 := s.PruneImageVerifications(ctx, store.ImageScanRetention{Unused: time.Minute, PerCluster: 1, MaxDeletes: 1000}, far)
					_, e5 := s.PruneRuntimeProfiles(ctx, time.Minute, 1000, far)
					_, e6 := s.PruneFrameworkScores(ctx, time.Minute, 1, 1000, far)
					_, e7 := s.PruneLockouts(ctx, far)
					return errors.Join(e1, e2, e3, e4, e5, e6, e7)
				}},
			}
			// What the steps exercised (the sequence must reach each).
			var groupSnapshots, revocations, byDigest int
			for step := range 80 {
				now = now.Add([]time.Duration{0, time.Minute, 20 * time.Minute, 61 * time.Minute}[m.rng.IntN(4)])
				agent := agents[m.rng.IntN(len(agents))]
				name := fmt.Sprintf("step %d", step)
				switch op := m.rng.IntN(10); {
				case op == 0 && len(agents) < 4: // a new agent of the cluster
					enrol(fmt.Sprintf("ag-%d", len(agents)))
					compare(name+" (enrolment)", nil, nil)
				case op == 1: // revoked, then re-enrolled
					var errs [2]error
					for i, sd := range sides {
						_, errs[i] = sd.s.RevokeCluster(ctx, sd.c.ID, now)
					}
					compare(name+" (revocation)", errs[0], errs[1])
					revocations++
					now = now.Add(time.Second)
					enrol(fmt.Sprintf("ag-%d", len(agents)))
					compare(name+" (re-enrolment)", nil, nil)
				case op == 2: // several reports of the cluster in one group commit
					var items [2][]store.GroupItem
					var kinds []bool
					for range 2 + m.rng.IntN(3) {
						a := agents[m.rng.IntN(len(agents))]
						d := m.report()
						kinds = append(kinds, d.Full)
						envs := envelope(a, d)
						for i := range items {
							items[i] = append(items[i], store.GroupItem{AgentID: a, Envs: []*fleetapi.Envelope{envs[i]}})
						}
					}
					if n := strings.Count(fmt.Sprint(kinds), "true"); n >= 2 {
						groupSnapshots++
					}
					_, errsD := store.CommitGroup(digests, now, items[0])
					_, errsW := store.CommitGroup(whole, now, items[1])
					for i := range errsD {
						compare(fmt.Sprintf("%s (group commit item %d of %d, snapshots %v)", name, i, len(errsD), kinds), errsD[i], errsW[i])
					}
				case op == 3:
					o := other[m.rng.IntN(len(other))]
					var errs [2]error
					for i, sd := range sides {
						errs[i] = o.do(sd.s, sd.c)
					}
					if errs[0] != nil || errs[1] != nil {
						t.Fatalf("%s (%s): %v, %v", name, o.name, errs[0], errs[1])
					}
					seqs[agents[len(agents)-1]] += map[bool]uint64{true: 1}[o.name != "retention prunes"]
					compare(name+" ("+o.name+")", nil, nil)
				default:
					d := m.report()
					envs := envelope(agent, d)
					read := store.DiffRows(digests)
					_, errD := digests.Ingest(ctx, agent, envs[0], now)
					readWhole := store.DiffRows(whole)
					_, errW := whole.Ingest(ctx, agent, envs[1], now)
					if d.Full && errD == nil && store.DiffRows(digests)-read < store.DiffRows(whole)-readWhole {
						byDigest++
					}
					compare(fmt.Sprintf("%s (%s, full %v)", name, agent, d.Full), errD, errW)
				}
			}
			if groupSnapshots == 0 || revocations == 0 || byDigest == 0 || len(agents) < 3 {
				t.Fatalf("%d group commits with two snapshots or more, %d revocations, %d snapshots diffed by digest, %d agents: the sequence misses a case", groupSnapshots, revocations, byDigest, len(agents))
			}
			t.Logf("%d group commits with two snapshots or more, %d revocations, %d snapshots diffed by digest, %d agents", groupSnapshots, revocations, byDigest, len(agents))
		})
	}
}

// TestObjectDigestsConcurrentReplicas: two agents of one cluster send
// snapshots and deltas at once, each through either of two hub replicas
// on one database (on SQLite, one store: its group commits), so that
// snapshots of the cluster race; the digests then still match the rows,
// and a last snapshot leaves exactly the rows a hub that diffs it whole
// leaves (the first, in both, diffed whole or by digest).
func TestObjectDigestsConcurrentReplicas(t *testing.T) {
	for _, b := range backendURLs {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url := b.url(t)
			var replicas [2]store.Store
			for i := range replicas {
				s, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				replicas[i] = s
				if b.name == "sqlite" {
					replicas[1] = s // one process per SQLite database
					break
				}
			}
			c := enrolled(t, replicas[0], "edge", "ag-a")
			enrolled(t, replicas[0], "edge", "ag-b")
			const reports = 40
			errs := make(chan error, 2)
			models := [2]*digestModel{}
			for i, agent := range []string{"ag-a", "ag-b"} {
				m := &digestModel{rng: rand.New(rand.NewPCG(uint64(i), 23)), objects: map[string][]finding.Finding{}}
				for range 30 {
					m.newObject()
				}
				models[i] = m
				go func() {
					for seq := uint64(1); seq <= reports; seq++ {
						d := m.report()
						if seq%3 == 0 {
							d = m.snapshot()
						}
						r := replicas[m.rng.IntN(2)]
						if _, err := r.Ingest(ctx, agent, &fleetapi.Envelope{Seq: seq, Time: t0, Kind: fleetapi.KindFindings, Findings: d}, t0); err != nil {
							errs <- fmt.Errorf("%s seq %d: %w", agent, seq, err)
							return
						}
					}
					errs <- nil
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			checkDigests(t, replicas[0], c.ID, store.AllFindingRows(t, replicas[0], c.ID), "after the race")
			// Then agent a's view twice, the second time with two objects
			// changed, through either replica: the second is diffed by
			// digest, and leaves the rows a hub that diffs both whole
			// leaves.
			m := models[0]
			first := m.snapshot()
			m.mutate(m.pick())
			m.mutate(m.pick())
			second := m.snapshot()
			whole := backends[0].open(t)
			t.Cleanup(func() { whole.Close() })
			store.DisableObjectDigests(whole)
			cw := enrolled(t, whole, "edge", "ag-a")
			for i, d := range []*fleetapi.FindingsDelta{first, second} {
				read := store.DiffRows(replicas[i])
				if _, err := replicas[i].Ingest(ctx, "ag-a", &fleetapi.Envelope{Seq: reports + 1 + uint64(i), Time: t0, Kind: fleetapi.KindFindings, Findings: d}, t0); err != nil {
					t.Fatal(err)
				}
				if _, err := whole.Ingest(ctx, "ag-a", &fleetapi.Envelope{Seq: 1 + uint64(i), Time: t0, Kind: fleetapi.KindFindings, Findings: d}, t0); err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					if n, all := store.DiffRows(replicas[i])-read, len(store.AllFindingRows(t, whole, cw.ID)); n >= int64(all) {
						t.Errorf("the last snapshot read back %d rows of %d: not by digest", n, all)
					}
				}
			}
			got, want := rowContents(store.AllFindingRows(t, replicas[0], c.ID)), rowContents(store.AllFindingRows(t, whole, cw.ID))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after the last snapshots: %d rows, %d from them alone; first difference: %s", len(got), len(want), firstDiff(got, want))
			}
			checkDigests(t, replicas[0], c.ID, store.AllFindingRows(t, replicas[0], c.ID), "after the last snapshot")
		})
	}
}

// snapshot is a full report of the model as it is.
func (m *digestModel) snapshot() *fleetapi.FindingsDelta {
	d := &fleetapi.FindingsDelta{Full: true}
	for _, n := range m.names() {
		d.Objects = append(d.Objects, m.object(n))
	}
	return d
}

// rowContents are AllFindingRows without the generation and times, which
// depend on the reports before.
func rowContents(rows []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		f := strings.Split(r, "|")
		f[2], f[len(f)-3], f[len(f)-2] = "", "", ""
		out[i] = strings.Join(f, "|")
	}
	return out
}

// TestFindingsWrittenWithoutDigestsVoidThem: on PostgreSQL, a replica of
// a hub from before migration 16 (still running through a rolling
// upgrade: it checks the schema only when it starts) or an operator's
// SQL writes findings rows without keeping object_digests. Here such
// writes delete one object's rows and change another's; the next
// snapshot, the same as the one before them, must restore both rather
// than skip them by their unchanged digests (migration 17), and the
// hub's own writes do not void the digests (the snapshot after reads
// nothing back).
func TestFindingsWrittenWithoutDigestsVoidThem(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	whole := backends[0].open(t)
	defer whole.Close()
	store.DisableObjectDigests(whole)
	c, cw := enrolled(t, s, "edge", "ag"), enrolled(t, whole, "edge", "ag")
	other := enrolled(t, s, "other", "ag-other")
	var pods []fleetapi.ObjectFindings
	for i := range 20 {
		pods = append(pods, objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), "r1", "r2"))
	}
	for seq := uint64(1); seq <= 2; seq++ {
		for _, st := range []store.Store{s, whole} {
			if _, err := st.Ingest(ctx, "ag", findingsEnv(seq, true, pods...), t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Ingest(ctx, "ag-other", findingsEnv(seq, true, pods...), t0); err != nil {
			t.Fatal(err)
		}
	}
	old, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for _, q := range []string{
		`DELETE FROM findings WHERE cluster_id = $1 AND object_key = 'Pod/shop/web-3'`,
		`UPDATE findings SET data = '{}', dhash = 'changed elsewhere', severity = 1 WHERE cluster_id = $1 AND object_key = 'Pod/shop/web-4'`,
	} {
		if _, err := old.ExecContext(ctx, q, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint64(3); seq <= 4; seq++ {
		before := store.DiffRows(s)
		if _, err := s.Ingest(ctx, "ag", findingsEnv(seq, true, pods...), t0); err != nil {
			t.Fatal(err)
		}
		got, want := rowContents(store.AllFindingRows(t, s, c.ID)), rowContents(store.AllFindingRows(t, whole, cw.ID))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("snapshot %d after writes without digests: %d rows, want %d; first difference: %s", seq, len(got), len(want), firstDiff(got, want))
		}
		if read := store.DiffRows(s) - before; seq == 4 && read != 0 {
			t.Errorf("snapshot %d, unchanged, read back %d rows: the hub's own writes voided the digests", seq, read)
		}
	}
	// Every cluster's digests were voided (the trigger cannot tell which
	// clusters a statement wrote): the other's next snapshot is diffed
	// whole, and stores the same.
	if got := store.ObjectDigests(t, s, other.ID); len(got) == 0 || strings.HasPrefix(got[0], "|complete|") {
		t.Errorf("the other cluster's digests are still complete: %v", got[:min(len(got), 1)])
	}
}
