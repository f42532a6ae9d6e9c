package hubbench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/inflate"
)

// BenchmarkSnapshotDecode: the hub's CPU time for reading a 500-pod
// snapshot body (7,130 findings of the agent's shape, 14.3 per pod, as
// bench/cmd/hubload sends them): inflating its gzip with compress/gzip
// and with internal/inflate (to a callback; copied from a new decoder
// into a kept buffer, the hub's path until the seventh session of
// 2026-12-07; in place into a kept buffer with a kept decoder, the hub's
// path since), counting its items, and decoding it with
// the hand-written decoders (fleetapi.DecodeReport; and counting the
// items as they decode, DecodeReportBodyWithin, the hub's path until
// 2026-12-07; partially, DecodeReportBodyPartial, the hub's path since:
// the objects sent with a digest keep only what the counters read) and with the
// reflective decoder alone (fleetapi.DecodeReportReflective, the path
// before them). Besides ns/op it reports cpu-ms/op, the process's CPU
// time per operation (GC included), which the shared machine's load
// inflates less than the wall clock (figures in README.md).
//
//	go test -run '^$' -bench SnapshotDecode -benchtime 50x ./bench/hub/
func BenchmarkSnapshotDecode(b *testing.B) {
	js := snapshotJSON(b, 500)
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // the outbox's level
	_, _ = zw.Write(js)
	_ = zw.Close()
	b.Logf("%d bytes of JSON, %d of gzip", len(js), z.Len())
	// The hub's body buffer and decoder, kept from one report to the
	// next, with room for the body and a window.
	var dec inflate.Decoder
	kept := make([]byte, 0, len(js)+inflate.OutBufferLen)
	cases := []struct {
		name string
		op   func() error
	}{
		{"inflate/compress-gzip", func() error {
			zr, err := gzip.NewReader(bytes.NewReader(z.Bytes()))
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, zr)
			return err
		}},
		{"inflate/internal-inflate", func() error {
			return inflate.Gunzip(bytes.NewReader(z.Bytes()), func([]byte) error { return nil })
		}},
		{"inflate/copied", func() error { // the hub's path until then: a new decoder, the output copied into the kept buffer
			kept = kept[:0]
			return inflate.Gunzip(bytes.NewReader(z.Bytes()), func(p []byte) error {
				kept = append(kept, p...)
				return nil
			})
		}},
		{"inflate/in-place", func() error { // the hub's path since 2026-12-07 (seventh session)
			var err error
			kept, err = dec.GunzipAppend(kept[:0], z.Bytes(), fleetapi.MaxReportBytes)
			return err
		}},
		{"count-items", func() error {
			return (&fleetapi.ItemLimitReader{Max: fleetapi.MaxReportItems}).Count(js)
		}},
		{"decode/hand-written", func() error {
			var rb fleetapi.ReportBatch
			return fleetapi.DecodeReportBody(js, &rb)
		}},
		{"decode/hand-written-counting-items", func() error {
			var rb fleetapi.ReportBatch
			return fleetapi.DecodeReportBodyWithin(js, fleetapi.MaxReportItems, &rb)
		}},
		{"decode/partial", func() error { // the hub's path since 2026-12-07
			var rb fleetapi.ReportBatch
			return fleetapi.DecodeReportBodyPartial(js, fleetapi.MaxReportItems, &rb)
		}},
		{"decode/reflective", func() error {
			var rb fleetapi.ReportBatch
			return fleetapi.DecodeReportReflective(bytes.NewReader(js), &rb)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runCPU(b, len(js), c.op, time.Millisecond, "cpu-ms/op") })
	}
}

// runCPU runs op as the benchmark's loop, over size bytes, and reports
// the process's CPU time per operation in unit.
func runCPU(b *testing.B, size int, op func() error, unit time.Duration, name string) {
	b.SetBytes(int64(size))
	start, n := processCPU(), 0
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(processCPU()-start)/float64(n)/float64(unit), name)
}

// processCPU is the process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// snapshotJSON is a batch of one full snapshot of pods pods, encoded as
// the agent encodes it: 15, 20, 5 and 17 findings for the four pod kinds
// of bench/cmd/hubload (14.3 on average), about 450 bytes each.
func snapshotJSON(b *testing.B, pods int) []byte {
	d := &fleetapi.FindingsDelta{Full: true}
	for p := range pods {
		ref := finding.ObjectRef{Kind: "Pod", Namespace: fmt.Sprintf("team-%02d", p%10), Name: fmt.Sprintf("web-%06d-7f9c8d6b5-x%03d", p, p%997)}
		o := fleetapi.ObjectFindings{Object: ref}
		for i := range [4]int{15, 20, 5, 17}[p%4] {
			container := "app"
			if i%3 == 2 {
				container = "sidecar"
			}
			o.Findings = append(o.Findings, finding.Finding{RuleID: fmt.Sprintf("pss/rule-%d", i), Severity: finding.Severity(1 + (i+p)%4),
				Title: "Container may run as root", Object: ref, Container: container,
				Message:     fmt.Sprintf("container %q of pod %s/%s: Container may run as root (securityContext.runAsNonRoot is not set as the baseline requires)", container, ref.Namespace, ref.Name),
				Field:       "spec.containers[0].securityContext.runAsNonRoot",
				Remediation: "Set securityContext.runAsNonRoot in the pod template as the restricted profile of the Pod Security Standards requires; see the rule's references for the exact values allowed."})
		}
		if err := fleetapi.SetDigest(&o); err != nil { // as the agent sends a snapshot's objects
			b.Fatal(err)
		}
		d.Objects = append(d.Objects, o)
	}
	js, err := json.Marshal(&fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{{Seq: 1, Time: time.Unix(1, 0).UTC(), Kind: fleetapi.KindFindings, Findings: d}}})
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkDeltaInflate: the hub's CPU time for inflating a findings
// delta's body (a rollout of 5 pods, about 33 KB of JSON, the median
// delta of bench/cmd/hubload) into a new buffer of its size: with a new
// decoder each time (its 64 KiB input and 512 KiB window allocated and
// cleared; the hub until the seventh session of 2026-12-07) and with a
// kept one (inflate.Decoder.GunzipAppend, the hub since).
//
//	go test -run '^$' -bench DeltaInflate -benchtime 2000x ./bench/hub/
func BenchmarkDeltaInflate(b *testing.B) {
	js := snapshotJSON(b, 5)
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	_, _ = zw.Write(js)
	_ = zw.Close()
	var dec inflate.Decoder
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"new-decoder", func() error {
			body := make([]byte, 0, len(js))
			return inflate.Gunzip(bytes.NewReader(z.Bytes()), func(p []byte) error {
				body = append(body, p...)
				return nil
			})
		}},
		{"kept-decoder", func() error {
			_, err := dec.GunzipAppend(make([]byte, 0, len(js)), z.Bytes(), fleetapi.MaxReportBytes)
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) { runCPU(b, len(js), c.op, time.Microsecond, "cpu-µs/op") })
	}
}
