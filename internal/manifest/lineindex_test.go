package manifest

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortedLineIndex is newLineIndex the plain way: pack, then sort.
func sortedLineIndex(entries []lineEntry) (lineIndex, int) {
	if len(entries) == 0 {
		return nil, 0
	}
	base := entries[0].line
	for _, e := range entries {
		base = min(base, e.line)
	}
	ix := make(lineIndex, len(entries))
	for i, e := range entries {
		ix[i] = e.hash>>lineBits<<lineBits | uint64(min(e.line-base, lineMask))
	}
	slices.Sort(ix)
	return ix, int(base)
}

func TestNewLineIndexMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		n    int
		hash func(i int) uint64
	}{
		{"few", 10, func(int) uint64 { return rng.Uint64() }},
		{"path hashes", 5000, func(i int) uint64 { return uint64(newPathHash().key("spec").index(i)) }},
		{"uniform", 3000, func(int) uint64 { return rng.Uint64() }},
		{"many buckets", 70000, func(int) uint64 { return rng.Uint64() }},
		{"duplicates", 2000, func(i int) uint64 { return uint64(i % 7 << 50) }},
		// Every hash in one bucket: the insertion sort gives up.
		{"one bucket", 4000, func(int) uint64 { return rng.Uint64() >> 20 }},
		{"descending", 4000, func(i int) uint64 { return ^uint64(i) << 30 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := make([]lineEntry, tc.n)
			for i := range entries {
				entries[i] = lineEntry{hash: tc.hash(i), line: int32(1 + rng.IntN(1<<20))}
			}
			got, gotBase := newLineIndex(entries)
			want, wantBase := sortedLineIndex(entries)
			if gotBase != wantBase || !slices.Equal(got, want) {
				t.Fatalf("index differs from the sorted one (base %d, want %d)", gotBase, wantBase)
			}
		})
	}
}

// FuzzNewLineIndexMatchesSort: any entries, 12 bytes each (hash, line);
// the first byte, when odd, squeezes the hashes into few buckets.
func FuzzNewLineIndexMatchesSort(f *testing.F) {
	f.Add([]byte{0})
	f.Add(make([]byte, 12*100))
	f.Add(append([]byte{1}, make([]byte, 12*200)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		squeeze := data[0]&1 == 1
		data = data[1:]
		var entries []lineEntry
		for ; len(data) >= 12; data = data[12:] {
			h := binary.LittleEndian.Uint64(data)
			if squeeze {
				h >>= 40
			}
			entries = append(entries, lineEntry{hash: h, line: int32(binary.LittleEndian.Uint32(data[8:]) >> 4)})
		}
		got, gotBase := newLineIndex(entries)
		want, wantBase := sortedLineIndex(entries)
		if gotBase != wantBase || !slices.Equal(got, want) {
			t.Fatalf("index differs from the sorted one for %d entries", len(entries))
		}
	})
}
