package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// withAgentDigests is d as a new agent sends it: a snapshot's objects
// with findings carry their digest (fleetapi.SetDigest). wrong, when not
// nil, picks objects given another digest instead (well-formed but not
// theirs, or not of the form), as a broken or hostile agent might.
func withAgentDigests(t *testing.T, d *fleetapi.FindingsDelta, wrong func() string) *fleetapi.FindingsDelta {
	t.Helper()
	c := *d
	c.Objects = append([]fleetapi.ObjectFindings(nil), d.Objects...)
	if !c.Full {
		return &c
	}
	for i := range c.Objects {
		if err := fleetapi.SetDigest(&c.Objects[i]); err != nil {
			t.Fatal(err)
		}
		if w := wrong(); w != "" && len(c.Objects[i].Findings) > 0 {
			c.Objects[i].Digest = w
		}
	}
	return &c
}

// TestAgentDigestsStoreTheSame: the random report sequences of
// TestObjectDigestsStoreTheSame (findings changed, added, gone, sent
// twice; objects added, emptied, deleted, named twice; time jumps past
// the hourly last_seen refresh; batches; a quota) with each snapshot's
// objects carrying the agent's digests — some of them wrong or
// malformed — leave exactly the rows (every column, last_seen included:
// nothing goes stale), counters, rows count and refusals of a store that
// diffs every snapshot whole, and digests that are those of the rows;
// and a quarter or more of the snapshots' objects are never prepared.
func TestAgentDigestsStoreTheSame(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			digests, whole := digestAndWhole(t, b.open, 80)
			refused, objects := 0, 0
			for seed := range 5 {
				cluster, agent := fmt.Sprintf("edge-%d", seed), fmt.Sprintf("ag-%d", seed)
				cd, cw := enrolled(t, digests, cluster, agent), enrolled(t, whole, cluster, agent)
				m := &digestModel{rng: rand.New(rand.NewPCG(uint64(seed), 18)), objects: map[string][]finding.Finding{}}
				for range 20 {
					m.newObject()
				}
				wrong := func() string {
					switch m.rng.IntN(20) {
					case 0:
						return fmt.Sprintf("%032x", m.rng.Uint64()) // not the object's
					case 1:
						return "not a digest"
					}
					return ""
				}
				now, seq := t0, uint64(0)
				for step := range 60 {
					now = now.Add([]time.Duration{0, time.Minute, 20 * time.Minute, 61 * time.Minute}[m.rng.IntN(4)])
					var envs, envs2 []*fleetapi.Envelope
					for range 1 + m.rng.IntN(2)*m.rng.IntN(3) {
						seq++
						d := m.report()
						for _, o := range d.Objects {
							objects += b2i(d.Full && len(o.Findings) > 0)
						}
						envs = append(envs, &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: withAgentDigests(t, d, wrong)})
						envs2 = append(envs2, &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: d})
					}
					_, errD := digests.IngestBatch(ctx, agent, envs, now)
					_, errW := whole.IngestBatch(ctx, agent, envs2, now)
					if (errD == nil) != (errW == nil) || errD != nil && !errors.Is(errD, store.ErrQuota) {
						t.Fatalf("seed %d, step %d: %v with agent digests, %v without", seed, step, errD, errW)
					}
					if errD != nil {
						refused++
					}
					sameAsWhole(t, digests, whole, cd.ID, cw.ID, fmt.Sprintf("seed %d, step %d", seed, step))
				}
			}
			lazy := store.LazyObjects(digests)
			if refused == 0 || 4*lazy < int64(objects) {
				t.Fatalf("%d reports refused over the quota; %d of %d snapshot objects taken by their digest: the sequences miss a case", refused, lazy, objects)
			}
			t.Logf("%d batches refused over the quota; %d of %d snapshot objects taken by their digest", refused, lazy, objects)
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAgentDigestsKeyedByCluster: object digests are the sender's
// cluster's alone. Two clusters report the same objects with the same
// findings, so their digests are equal: the second cluster's first
// snapshot is stored whole all the same, and the stored digests are the
// ones the agent computes. A hostile agent of the first cluster then
// sends changed findings under its stored digests: only its own rows stay
// as they were (what an agent can do anyway by sending them unchanged),
// while the second cluster, sending the same change honestly, has it
// stored exactly as a store without digests stores it.
func TestAgentDigestsKeyedByCluster(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			digests, whole := digestAndWhole(t, b.open, 0)
			evil, good := enrolled(t, digests, "evil", "ag-evil"), enrolled(t, digests, "good", "ag-good")
			goodWhole := enrolled(t, whole, "good", "ag-good")
			pods := func(rev int) []fleetapi.ObjectFindings {
				var objs []fleetapi.ObjectFindings
				for i := range 10 {
					o := objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), "r1", "r2", "r3")
					o.Findings[0].Message = fmt.Sprintf("revision %d", rev)
					objs = append(objs, o)
				}
				return objs
			}
			send := func(s store.Store, agent string, seq uint64, objs []fleetapi.ObjectFindings) {
				t.Helper()
				if _, err := s.Ingest(ctx, agent, &fleetapi.Envelope{Seq: seq, Time: t0, Kind: fleetapi.KindFindings,
					Findings: &fleetapi.FindingsDelta{Full: true, Objects: objs}}, t0); err != nil {
					t.Fatal(err)
				}
			}
			signed := func(objs []fleetapi.ObjectFindings) []fleetapi.ObjectFindings {
				return withAgentDigests(t, &fleetapi.FindingsDelta{Full: true, Objects: objs}, func() string { return "" }).Objects
			}
			// The evil cluster's snapshots store its digests (the
			// first one fills them, the second is taken by them).
			send(digests, "ag-evil", 1, signed(pods(1)))
			send(digests, "ag-evil", 2, signed(pods(1)))
			evilRows := store.AllFindingRows(t, digests, evil.ID)
			if len(evilRows) != 30 {
				t.Fatalf("evil cluster: %d rows, want 30", len(evilRows))
			}
			for _, o := range signed(pods(1)) {
				want := "Pod/shop/" + o.Object.Name + "|" + o.Digest + "|"
				found := false
				for _, d := range store.ObjectDigests(t, digests, evil.ID) {
					found = found || strings.HasPrefix(d, want)
				}
				if !found {
					t.Fatalf("the stored digests %v lack the agent's %s", store.ObjectDigests(t, digests, evil.ID), want)
				}
			}
			// The good cluster sends the same digests: nothing of the
			// evil cluster's is taken for it.
			for seq, rev := range []int{1, 1, 2} {
				send(digests, "ag-good", uint64(seq+1), signed(pods(rev)))
				send(whole, "ag-good", uint64(seq+1), pods(rev))
				sameAsWhole(t, digests, whole, good.ID, goodWhole.ID, fmt.Sprintf("good cluster, snapshot %d", seq+1))
			}
			// The evil agent sends revision 2 under revision 1's
			// digests: its own rows stay those of revision 1.
			lying := signed(pods(2))
			for i, o := range signed(pods(1)) {
				lying[i].Digest = o.Digest
			}
			send(digests, "ag-evil", 3, lying)
			if got := store.AllFindingRows(t, digests, evil.ID); !reflect.DeepEqual(got, evilRows) {
				t.Fatalf("evil cluster: the lying snapshot changed its rows: %s", firstDiff(got, evilRows))
			}
			sameAsWhole(t, digests, whole, good.ID, goodWhole.ID, "good cluster after the lying snapshot")
		})
	}
}
