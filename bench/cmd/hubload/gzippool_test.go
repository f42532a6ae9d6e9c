package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// freshMember is gzipMember with a new writer for every member.
func freshMember(p []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}

// TestGzipMemberReused: a reused compressor writes the bytes a new one
// writes, whatever it compressed before.
func TestGzipMemberReused(t *testing.T) {
	m := newClusterModel(20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		js, err := json.Marshal(&fleetapi.Envelope{Seq: uint64(i + 1), Kind: fleetapi.KindFindings, Findings: m.delta(rng, i%4, 2)})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			js = js[:1+i] // short members between long ones
		}
		if got, want := gzipMember(js), freshMember(js); !bytes.Equal(got, want) {
			t.Fatalf("member %d: reused compressor wrote %d bytes, a new one %d", i, len(got), len(want))
		}
	}
}

// BenchmarkDeltaMember: the load client's CPU for one delta's report
// (the model's change, its JSON, its gzip member) with the compressors
// reused and with a new one per member.
func BenchmarkDeltaMember(b *testing.B) {
	for _, c := range []struct {
		name   string
		member func([]byte) []byte
	}{{"reused", gzipMember}, {"new", freshMember}} {
		b.Run(c.name, func(b *testing.B) {
			m := newClusterModel(100)
			rng := rand.New(rand.NewPCG(5, 6))
			for b.Loop() {
				js, _ := json.Marshal(&fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindFindings, Findings: m.delta(rng, 1, 2)})
				_ = c.member(js)
			}
		})
	}
}
