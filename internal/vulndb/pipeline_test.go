package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadRecordsOrder: records decoded ahead of the writer reach it in
// the archive's order, with their own JSON, whatever the batch bounds
// (entries per batch, bytes per batch, one record over the size limit);
// skipped records are counted and reported in order; a directory reads
// the same.
func TestReadRecordsOrder(t *testing.T) {
	const n = 1500 // several batches of readBatchEntries
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dir := t.TempDir()
	var want []string
	var wantErrs []string
	bodies := map[string]string{} // by file name
	byID := map[string]string{}   // the file name of each ID
	for i := range n {
		name := fmt.Sprintf("r%05d.json", i)
		body := recordJSON(fmt.Sprintf("GO-%05d", i), "Go", "example.com/m")
		// Records of different shapes one after the other (0 to 3
		// affected packages, each with its own name; compact or
		// indented), so that what a batch reuses from the one before
		// is seen to be reset.
		var more []string
		for j := range i % 4 {
			more = append(more, fmt.Sprintf(`{"package":{"ecosystem":"Debian:%d","name":"p%d-%d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}`, 11+j, i, j))
		}
		body = strings.Replace(body, `"affected":[`, `"affected":[`+strings.Join(append(more, ""), ","), 1)
		if i%3 == 0 {
			var indented bytes.Buffer
			if err := json.Indent(&indented, []byte(body), "", "  "); err != nil {
				t.Fatal(err)
			}
			body = indented.String()
		}
		switch {
		case i%97 == 5:
			body = `{"id":"bad id"}`
			wantErrs = append(wantErrs, name)
		case i == 700:
			// A big record, so that a batch closes on bytes.
			body = strings.Replace(body, `"affected"`, `"details":"`+strings.Repeat("x", readBatchBytes)+`","affected"`, 1)
			want = append(want, fmt.Sprintf("GO-%05d", i))
		default:
			want = append(want, fmt.Sprintf("GO-%05d", i))
		}
		bodies[name], byID[fmt.Sprintf("GO-%05d", i)] = body, name
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(zpath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{zpath, dir} {
		var got []string
		st, err := readRecords(context.Background(), path, func(rec *Record, raw []byte) error {
			var again Record
			if err := decodeRecord(raw, &again); err != nil || again.ID != rec.ID {
				t.Fatalf("%s: raw JSON of another record: %s", rec.ID, truncate(string(raw), 80))
			}
			body := bodies[byID[rec.ID]]
			if want := appendStripped(nil, []byte(body)); !bytes.Equal(raw, want) {
				t.Fatalf("%s: JSON %s, want %s", rec.ID, truncate(string(raw), 200), truncate(string(want), 200))
			}
			full, err := ParseRecord([]byte(body))
			if err != nil || len(rec.Affected) != len(full.Affected) {
				t.Fatalf("%s: %d affected, want %d (%v)", rec.ID, len(rec.Affected), len(full.Affected), err)
			}
			for j := range full.Affected {
				if rec.Affected[j].Package != full.Affected[j].Package {
					t.Fatalf("%s: affected[%d] %+v, want %+v", rec.ID, j, rec.Affected[j].Package, full.Affected[j].Package)
				}
			}
			got = append(got, rec.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || st.records != len(want) || st.skipped != len(wantErrs) {
			t.Errorf("%s: %d records (%d), %d skipped; want %d, %d", filepath.Base(path), len(got), st.records, st.skipped, len(want), len(wantErrs))
		}
		for i, e := range st.errors {
			if !strings.HasPrefix(e, wantErrs[i]+":") {
				t.Errorf("%s: error %d %q, want one of %s", filepath.Base(path), i, e, wantErrs[i])
			}
		}
	}
}

// TestDecodeAheadErrors: the writer's error stops the read and is
// returned; the producer's error is returned after the batches it
// emitted before it were consumed; cancellation stops everything.
func TestDecodeAheadErrors(t *testing.T) {
	produce := func(n int, last error) func(ctx context.Context, emit func(int) error) error {
		return func(ctx context.Context, emit func(int) error) error {
			for i := range n {
				if err := emit(i); err != nil {
					return err
				}
			}
			return last
		}
	}
	double := func(i int) int { return 2 * i }
	stop := errors.New("writer failed")
	var seen []int
	err := decodeAhead(context.Background(), produce(1000, nil), double, func(r int) error {
		seen = append(seen, r)
		if r == 20 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(seen, []int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20}) {
		t.Errorf("writer error: %v after %v", err, seen)
	}
	seen = nil
	bad := errors.New("syntax error")
	err = decodeAhead(context.Background(), produce(50, bad), double, func(r int) error { seen = append(seen, r); return nil })
	if !errors.Is(err, bad) || len(seen) != 50 || seen[49] != 98 {
		t.Errorf("producer error: %v after %d results", err, len(seen))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = decodeAhead(ctx, produce(1000, nil), double, func(int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestBufferPoolKeepsOnlyBoundedBuffers checks that a buffer made for
// an outsized item is not recycled (it would stay that large for the
// rest of the read), and that buffers within the bound are.
func TestBufferPoolKeepsOnlyBoundedBuffers(t *testing.T) {
	tests := []struct {
		name string
		size int
		kept bool
	}{
		{"within the bound", 1 << 10, true},
		{"at the bound", 4 << 10, true},
		{"outsized", 1 << 20, false},
	}
	for _, tt := range tests {
		p := newBufferPool(4 << 10)
		p.put(make([]byte, 0, tt.size))
		got := p.get(1)
		if kept := cap(got) == tt.size; kept != tt.kept {
			t.Errorf("%s: a buffer of %d bytes kept %v, want %v", tt.name, tt.size, kept, tt.kept)
		}
	}
}
