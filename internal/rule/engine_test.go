package rule

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// manyFindingsSet has one workload rule that reports perWorkload
// violations of every workload, each with its own message, so that one
// evaluation fills several of the workers' chunks.
func manyFindingsSet(t *testing.T, perWorkload int) *Set {
	t.Helper()
	s, err := NewSet(&Rule{ID: "test/many", Title: "many", Severity: finding.SeverityLow,
		Workload: func(_ *Context, w *workload.Workload) []Violation {
			out := make([]Violation, perWorkload)
			for i := range out {
				out[i] = Violation{Message: fmt.Sprintf("%s #%d", w.Ref.Name, i), Field: w.Field("containers[0]")}
			}
			return out
		}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func messages(fs []finding.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Message
	}
	slices.Sort(out)
	return out
}

// TestAppendObjectsMatchesEvaluateObjects: AppendObjects appends exactly
// the findings EvaluateObjects returns, after what dst already holds, on
// every call (the workers' chunks are reused from one call to the next,
// and a reused chunk must start empty), and grows dst through grow once,
// by the batch's size, only when the findings do not fit.
func TestAppendObjectsMatchesEvaluateObjects(t *testing.T) {
	var yaml strings.Builder
	for i := range 40 {
		fmt.Fprintf(&yaml, "---\n%s", strings.Replace(deployment("", ""), "name: web\n", fmt.Sprintf("name: web-%d\n", i), 1))
	}
	inv := inventoryOf(t, yaml.String())
	for _, tc := range []struct {
		name        string
		perWorkload int
		room        int // spare capacity of dst before the call
		wantGrow    bool
	}{
		{"several chunks, no room", 20, 0, true},
		{"several chunks, room", 20, 800, false},
		{"one chunk", 3, 0, true},
		{"nothing found", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := manyFindingsSet(t, tc.perWorkload)
			want, err := s.EvaluateObjects(context.Background(), NewContext(inv, Settings{}, s))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 40*tc.perWorkload {
				t.Fatalf("EvaluateObjects: %d findings, want %d", len(want), 40*tc.perWorkload)
			}
			for call := range 3 {
				dst := make([]finding.Finding, 1, 1+tc.room)
				dst[0].Message = "kept"
				var grown []int
				got, err := s.AppendObjects(context.Background(), NewContext(inv, Settings{}, s), dst,
					func(fs []finding.Finding, n int) []finding.Finding {
						grown = append(grown, n)
						return slices.Grow(fs, n)
					})
				if err != nil {
					t.Fatal(err)
				}
				if got[0].Message != "kept" {
					t.Fatalf("call %d: dst's finding became %q", call, got[0].Message)
				}
				if !slices.Equal(messages(got[1:]), messages(want)) {
					t.Fatalf("call %d: %d findings appended, want the %d of EvaluateObjects", call, len(got)-1, len(want))
				}
				if tc.wantGrow != (len(grown) > 0) || len(grown) > 1 || (len(grown) == 1 && grown[0] != len(want)) {
					t.Errorf("call %d: grow called with %v, want once with %d: %v", call, grown, len(want), tc.wantGrow)
				}
			}
		})
	}
}

// TestReleasedChunksAreEmpty: a chunk goes back to the pool without its
// findings, so the pool never keeps reported findings' strings alive.
func TestReleasedChunksAreEmpty(t *testing.T) {
	s := manyFindingsSet(t, 1)
	c := findingChunks{pool: &s.chunks}
	for i := range findingChunk + 10 {
		c.add(finding.Finding{Message: fmt.Sprint(i)})
	}
	if len(c.parts) != 2 {
		t.Fatalf("%d chunks for %d findings", len(c.parts), findingChunk+10)
	}
	firsts := []*finding.Finding{&c.parts[0][:1][0], &c.parts[1][:1][0]}
	s.release(c)
	for i, f := range firsts {
		if *f != (finding.Finding{}) {
			t.Errorf("released chunk %d still holds %+v", i, *f)
		}
	}
}

// The batches of one scan share parsed image references (they depend on
// the reference alone) but not Pod Security, which depends on the
// batch's inventory.
func TestForInventorySharesImages(t *testing.T) {
	c := NewContext(workload.NewInventory(), Settings{DefaultPSSLevel: LevelBaseline}, nil)
	if _, err := c.Image("nginx:1.27"); err != nil {
		t.Fatal(err)
	}
	c.PodSecurityFor("ns")
	b := c.ForInventory(workload.NewInventory())
	if _, ok := b.images.Load("nginx:1.27"); !ok {
		t.Error("the batch's context parses again an image the scan has parsed")
	}
	if _, ok := b.podSec.Load("ns"); ok {
		t.Error("the batch's context reuses another inventory's Pod Security")
	}
	if b.Settings.DefaultPSSLevel != LevelBaseline || b.Inventory == c.Inventory {
		t.Errorf("batch context: settings %+v, same inventory %v", b.Settings, b.Inventory == c.Inventory)
	}
	if ref, err := b.Image("ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64)); err != nil || !ref.Pinned() {
		t.Errorf("Image = %+v, %v", ref, err)
	}
	if _, ok := c.images.Load("ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64)); !ok {
		t.Error("an image the batch parsed is not shared with the scan")
	}
	var zero Context
	if ref, err := zero.Image("nginx"); err != nil || ref.Repository != "library/nginx" {
		t.Errorf("zero Context: Image = %+v, %v", ref, err)
	}
}
