package manifest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestDocBuffers checks the buffer cycle itself: a buffer put back is the
// next one cloned into, a large one is left to the GC, and a full cycle
// drops what it cannot keep.
func TestDocBuffers(t *testing.T) {
	small := []byte("apiVersion: v1\nkind: Pod\n")
	tests := []struct {
		name      string
		keep      int
		src       []byte
		wantReuse bool
	}{
		{"small document reuses the buffer", 1, small, true},
		{"document at the bound reuses it", 1, bytes.Repeat([]byte("x"), maxRecycledDocument), true},
		{"larger document is a copy of its own", 1, bytes.Repeat([]byte("x"), maxRecycledDocument+1), false},
		{"no room to keep a buffer", 0, small, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newDocBuffers(tc.keep)
			first, recycle := b.clone(tc.src)
			if !bytes.Equal(first, tc.src) {
				t.Fatalf("clone = %q", first)
			}
			if recycle {
				b.put(first)
			}
			second, _ := b.clone(tc.src)
			if !bytes.Equal(second, tc.src) {
				t.Fatalf("second clone = %q", second)
			}
			if reused := &first[0] == &second[0]; reused != tc.wantReuse {
				t.Errorf("buffer reused = %v, want %v", reused, tc.wantReuse)
			}
			if &second[0] == &tc.src[0] {
				t.Error("clone returned the source itself")
			}
		})
	}
	var none *docBuffers // splitYAML without a reader's buffers
	if got, recycle := none.clone(small); recycle || !bytes.Equal(got, small) || &got[0] == &small[0] {
		t.Errorf("nil docBuffers: clone = %q, recycle %v", got, recycle)
	}
	none.put(small)
}

// TestLoadRecycledBuffers loads one stream of many different documents,
// each small enough for its buffer to go round, through the fast path and
// yaml.v3, with errors among them, and compares every object and problem
// with the document loaded alone (a buffer of its own, never reused). A
// buffer handed to the next document while a worker still reads it, or
// an object keeping a slice of it, shows as an object of another
// document's content.
func TestLoadRecycledBuffers(t *testing.T) {
	const n = 400
	docs := make([]string, n)
	for i := range docs {
		pad := strings.Repeat(fmt.Sprintf("%03d", i), i%37)
		switch i % 5 {
		case 0, 1, 2: // the fast path
			docs[i] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: ns-%d\ndata:\n  k%d: %q\n  pad: x%s\n", i, i%7, i, pad, pad)
		case 3: // an anchor: yaml.v3
			docs[i] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n cm-%d\ndata:\n  self: *n\n  pad: >\n    folded %s\n", i, pad)
		default: // not YAML: a problem naming the document's line
			docs[i] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata: {k: [%s\n", i, pad)
		}
	}
	alone := func(doc string) *Set {
		t.Helper()
		set, err := Load(context.Background(), nil, Options{Streams: []Stream{{Name: "s.yaml", Data: []byte(doc)}}})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	var want []string
	startLine := 1
	for i, doc := range docs {
		set := alone(doc)
		for _, o := range set.Objects {
			want = append(want, fmt.Sprintf("object %s/%s line %d data line %d: %s", o.Namespace, o.Name, o.Line+startLine, o.LineOf("data")+startLine, o.JSON))
		}
		for _, p := range set.Problems {
			msg := strings.Replace(p.Message, "document 1:", fmt.Sprintf("document %d:", i+1), 1)
			want = append(want, fmt.Sprintf("problem line %d: %s", p.Line+startLine, msg))
		}
		startLine += strings.Count(doc, "\n") + 1 // and the "---"
	}
	stream := []byte(strings.Join(docs, "---\n"))
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			set, err := Load(context.Background(), nil, Options{Workers: workers, Streams: []Stream{{Name: "s.yaml", Data: stream}}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range set.Objects {
				got = append(got, fmt.Sprintf("object %s/%s line %d data line %d: %s", o.Namespace, o.Name, o.Line+1, o.LineOf("data")+1, o.JSON))
			}
			for _, p := range set.Problems {
				got = append(got, fmt.Sprintf("problem line %d: %s", p.Line+1, p.Message))
			}
			if len(set.Objects) != n*4/5 {
				t.Errorf("%d objects, want %d", len(set.Objects), n*4/5)
			}
			sortedGot, sortedWant := strings.Join(sortedCopy(got), "\n"), strings.Join(sortedCopy(want), "\n")
			if sortedGot != sortedWant {
				t.Errorf("loaded in one stream:\n%s\n\nwant (each document alone):\n%s", firstDiff(sortedGot, sortedWant), firstDiff(sortedWant, sortedGot))
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// firstDiff returns a's lines from the first one that differs from b's.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return strings.Join(al[i:min(len(al), i+3)], "\n")
		}
	}
	return "(a prefix of the other)"
}
