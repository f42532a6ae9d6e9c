package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/inflate"
)

// TestSnapshotBodiesReused: a large report's body buffer serves the next
// one once the store has applied it (bodyPool), and what is stored from
// a body inflated into a reused buffer is that body's: snapshots of
// decreasing size (the reused buffer holds the longer one's bytes past
// the new end), each with every finding changed, leave exactly their own
// findings.
func TestSnapshotBodiesReused(t *testing.T) {
	st := newStore(t)
	h, err := New(context.Background(), Config{Store: st, Logger: quietLogger(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	a := newHostileAgent(t, h, "edge-big")
	snapshot := func(seq, pods int) ([]byte, int) {
		d := &fleetapi.FindingsDelta{Full: true}
		n := 0
		for p := range pods {
			ref := finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "team", Name: fmt.Sprintf("web-%d", p)}
			o := fleetapi.ObjectFindings{Object: ref}
			for i := range 5 {
				o.Findings = append(o.Findings, finding.Finding{RuleID: fmt.Sprintf("r-%d", i), Severity: finding.SeverityHigh, Title: "T", Object: ref,
					Message: fmt.Sprintf("report %d: pod %d finding %d %s", seq, p, i, strings.Repeat("x", 300))})
				n++
			}
			if err := fleetapi.SetDigest(&o); err != nil {
				t.Fatal(err)
			}
			d.Objects = append(d.Objects, o)
		}
		body, err := json.Marshal(&fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{{Seq: uint64(seq), Time: time.Now().UTC(), Kind: fleetapi.KindFindings, Findings: d}}})
		if err != nil {
			t.Fatal(err)
		}
		return body, n
	}
	var first *byte
	for seq, pods := range []int{600, 500, 400} {
		seq++
		body, n := snapshot(seq, pods)
		if len(body) < minPooledBody {
			t.Fatalf("a %d-byte body is not pooled", len(body))
		}
		if rec := a.send(http.MethodPost, fleetapi.PathReportBatch, body, true); rec.Code != http.StatusOK {
			t.Fatalf("report %d: %d %s", seq, rec.Code, rec.Body)
		}
		// The first body's buffer served every later one and is back
		// in the pool, alone.
		if n := len(h.bodies.free); n != 1 {
			t.Fatalf("report %d: %d buffers in the pool, want 1", seq, n)
		}
		buf := h.bodies.get(len(body))
		if buf == nil {
			t.Fatalf("report %d: its %d-byte body's buffer is not in the pool", seq, len(body))
		}
		if seq == 1 {
			first = &buf[:1][0]
		} else if &buf[:1][0] != first {
			t.Fatalf("report %d: inflated into a new buffer", seq)
		}
		h.bodies.put(buf)
		fs, err := st.ListFindings(context.Background(), store.FindingQuery{ClusterID: a.ClusterID, IncludeSuppressed: true, Limit: 10 * n})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != n {
			t.Fatalf("report %d: %d findings stored, want %d", seq, len(fs), n)
		}
		for _, f := range fs {
			if !strings.HasPrefix(f.Message, fmt.Sprintf("report %d: ", seq)) {
				t.Fatalf("report %d: stored %q", seq, f.Message)
			}
		}
	}
}

// TestBodyPoolBounds: small and huge buffers are not kept; a kept one
// serves a request of its size or less.
func TestBodyPoolBounds(t *testing.T) {
	p := newBodyPool(2)
	p.put(make([]byte, 10, minPooledBody-1))
	if p.get(1) != nil || p.get(minPooledBody-1) != nil {
		t.Fatal("a small buffer was kept or served")
	}
	p.put(make([]byte, 0, maxPooledBody+1))
	if p.get(maxPooledBody) != nil {
		t.Fatal("a huge buffer was kept")
	}
	p.put(make([]byte, 5, minPooledBody))
	if p.get(minPooledBody+1) != nil {
		t.Fatal("a buffer served a request larger than itself")
	}
	if b := p.get(minPooledBody); b == nil || len(b) != 0 {
		t.Fatalf("got %d bytes of a %d-byte buffer", len(b), cap(b))
	}
	for range 3 {
		p.put(make([]byte, 0, minPooledBody))
	}
	if len(p.free) != 2 {
		t.Fatalf("%d buffers kept, want at most 2", len(p.free))
	}
	var none *bodyPool
	none.put(make([]byte, minPooledBody))
	if none.get(minPooledBody) != nil {
		t.Fatal("no pool served a buffer")
	}
}

// TestInflateBodyInPlaceBounded: a body of the pool's size is inflated
// into the pool's buffer itself (no new buffer), with a kept decoder; a
// body one byte past the limit, a bomb, or a trailer that understates
// the size is refused as too large (413) or inflated within the limit,
// the body never growing past it, in the pool's buffer or not.
func TestInflateBodyInPlaceBounded(t *testing.T) {
	const limit = 2 << 20
	js := []byte(strings.Repeat(`{"ruleID":"pss/privileged","message":"container app of pod team/web: privileged"},`, limit/81+1))[:limit]
	gzipOf := gzipBestSpeed
	understated := gzipOf(js)
	copy(understated[len(understated)-4:], []byte{0, 0, 1, 0}) // ISIZE 64 KiB: the length check then fails
	bomb := gzipOf(make([]byte, 64<<20))
	for _, tc := range []struct {
		name    string
		gz      []byte
		want    []byte
		tooBig  bool
		inPlace bool
	}{
		{"exactly the limit", gzipOf(js), js, false, true},
		{"one byte past it", gzipOf(append(bytes.Clone(js), ' ')), nil, true, false},
		{"a bomb", bomb, nil, true, false},
		{"the limit in members, the last one small", slices.Concat(gzipOf(js[:1]), gzipOf(js[1:len(js)-2]), gzipOf(js[len(js)-2:])), js, false, false},
		{"understated size", understated, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBodyPool(1)
			pooled := make([]byte, 0, limit+inflate.OutBufferLen)
			p.put(pooled)
			z := new(inflate.Decoder)
			p.putDecoder(z)
			body, err := inflateBodyInto(tc.gz, limit, p)
			switch {
			case tc.tooBig:
				if !errors.Is(err, fleetapi.ErrTooLarge) {
					t.Fatalf("err = %v, want too large", err)
				}
			case tc.want == nil:
				if err == nil || errors.Is(err, fleetapi.ErrTooLarge) {
					t.Fatalf("err = %v, want a gzip error", err)
				}
			case err != nil || !bytes.Equal(body, tc.want):
				t.Fatalf("%d bytes (want %d), err %v", len(body), len(tc.want), err)
			}
			if cap(body) > cap(pooled) {
				t.Errorf("the body grew to %d bytes, past the limit and a window (%d)", cap(body), cap(pooled))
			}
			if tc.inPlace && &body[:1][0] != &pooled[:1][0] {
				t.Error("not inflated into the pool's buffer")
			}
			if got := p.decoder(); got != z {
				t.Error("the decoder was not given back")
			}
		})
	}
}

// gzipBestSpeed is p in one gzip member at the agent's outbox level.
func gzipBestSpeed(p []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}
