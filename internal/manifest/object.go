// Package manifest reads Kubernetes manifests (YAML and JSON, multi-document,
// kind: List, Helm and kustomize output) from files, directories and stdin,
// and Dockerfiles found beside them.
//
// All input is untrusted: documents, lines and alias expansion are bounded,
// binary files are refused, and one broken document never stops the rest
// from being read. Every object keeps its file and line, and the line of
// every field inside it, so findings can point at the exact place.
package manifest

import (
	"hash/fnv"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Object is one Kubernetes object read from the input.
type Object struct {
	// File is the path as given (or "-" / "<stdin>" for standard input).
	File string
	// Line is the first line of the object in File (1-based).
	Line int
	// Index is the position of the object in its file, counting from 0.
	Index int
	// HelmSource is the chart template named by Helm's "# Source:" comment.
	HelmSource string

	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// JSON is the object as canonical JSON, ready for typed decoding.
	JSON []byte

	lines    lineIndex
	lineBase int
}

// Group returns the API group of the object ("" for the core group).
func (o *Object) Group() string {
	if i := strings.IndexByte(o.APIVersion, '/'); i >= 0 {
		return o.APIVersion[:i]
	}
	return ""
}

// LineOf returns the line of the deepest existing field on the path, such as
// "spec.template.spec.containers[1].securityContext.privileged". When the
// field is absent it falls back to its nearest existing parent, and finally
// to the object's own line.
func (o *Object) LineOf(path string) int {
	if l := o.lines.lookup(path, o.lineBase); l > 0 {
		return l
	}
	return o.Line
}

// ReleaseLines drops the object's field line index, the largest part of
// a loaded object once its JSON is decoded (~8 bytes per field): a
// scan that evaluates its workloads batch by batch releases each batch's
// after locating its findings, so that the index of every object is not
// live to the end. LineOf then returns the object's own line; call it
// only once no more findings of the object will be located.
func (o *Object) ReleaseLines() { o.lines = nil }

// lineIndex maps hashed field paths to lines. It is a sorted slice rather
// than a map or the YAML node tree so that 10,000 objects keep only a few
// bytes per field in memory: each entry packs the top 40 bits of the path's
// hash above the field's line, counted from the object's lineBase.
type lineIndex []uint64

const (
	lineBits = 24
	lineMask = 1<<lineBits - 1
)

// lineEntry is a field's path hash and absolute line, before packing.
type lineEntry struct {
	hash uint64
	line int32
}

// newLineIndex packs and sorts entries. It returns the index and the line
// its entries count from. Documents are at most 4 MiB, so no line is
// further than 2^24 from the first; a line that were would be clamped.
func newLineIndex(entries []lineEntry) (lineIndex, int) {
	if len(entries) == 0 {
		return nil, 0
	}
	base := entries[0].line
	for _, e := range entries {
		base = min(base, e.line)
	}
	ix := make(lineIndex, len(entries))
	if !bucketSort(ix, entries, base) {
		for i, e := range entries {
			ix[i] = e.hash>>lineBits<<lineBits | uint64(min(e.line-base, lineMask))
		}
		slices.Sort(ix)
	}
	return ix, int(base)
}

// bucketSort packs entries into ix in sorted order, or reports false
// (with ix to be filled again) when the hashes are too far from uniform
// for it. Sorting the index was about a tenth of loading (1 million
// fields on 10,000 objects): the packed entries start with the top bits
// of an FNV-1a hash, spread evenly, so they are placed by their top
// log2(n) bits into as many buckets (a counting sort, two passes) and
// the few out of order within a bucket are then moved by an insertion
// sort. Hostile input can make paths whose hashes share their top bits;
// the insertion sort gives up after a few moves per entry, and the
// caller sorts the usual way, so the cost stays O(n log n).
func bucketSort(ix lineIndex, entries []lineEntry, base int32) bool {
	n := len(entries)
	if n < 64 {
		return false
	}
	shift := 64 - bits.Len(uint(n))
	var small [1025]int32
	var starts []int32
	if buckets := 1 << (64 - shift); buckets < len(small) {
		starts = small[:buckets+1]
	} else {
		starts = make([]int32, buckets+1)
	}
	for _, e := range entries {
		starts[e.hash>>shift+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	for _, e := range entries {
		b := e.hash >> shift
		ix[starts[b]] = e.hash>>lineBits<<lineBits | uint64(min(e.line-base, lineMask))
		starts[b]++
	}
	moves := 0
	for i := 1; i < n; i++ {
		v := ix[i]
		j := i
		for j > 0 && ix[j-1] > v {
			ix[j] = ix[j-1]
			j--
		}
		ix[j] = v
		if moves += i - j; moves > 4*n {
			return false
		}
	}
	return true
}

// get returns the line (relative to the base) of a hash, and whether the
// index has it. Equal hashes (two paths that collide) yield the first line.
func (ix lineIndex) get(h uint64) (int, bool) {
	key := h >> lineBits << lineBits
	i, _ := slices.BinarySearch(ix, key)
	if i < len(ix) && ix[i]>>lineBits == h>>lineBits {
		return int(ix[i] & lineMask), true
	}
	return 0, false
}

// lookup walks the path's prefixes (at "." and "[" boundaries) and returns
// the line of the deepest one present.
func (ix lineIndex) lookup(path string, base int) int {
	if len(ix) == 0 || path == "" {
		return 0
	}
	best := 0
	h := newPathHash()
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || (i > 0 && (path[i] == '.' || path[i] == '[')) {
			h = h.add(path[start:i])
			start = i
			// A miss is not the end: a key with dots in it
			// ("data.application.properties", an annotation) has
			// prefixes that are no field; the whole path still is.
			if l, ok := ix.get(uint64(h)); ok {
				best = base + l
			}
		}
	}
	return best
}

// pathHash is FNV-1a over the path text, computed incrementally so that
// the hash of "a.b[0]" built from "a", ".b", "[0]" equals that of the whole.
type pathHash uint64

func newPathHash() pathHash {
	h := fnv.New64a()
	return pathHash(h.Sum64())
}

const fnvPrime = 1099511628211

func (h pathHash) add(s string) pathHash {
	for i := 0; i < len(s); i++ {
		h ^= pathHash(s[i])
		h *= fnvPrime
	}
	return h
}

// addBytes is add for a byte slice.
func (h pathHash) addBytes(s []byte) pathHash {
	for _, c := range s {
		h ^= pathHash(c)
		h *= fnvPrime
	}
	return h
}

func (h pathHash) key(k string) pathHash { return h.add(".").add(k) }
func (h pathHash) firstKey(k string) pathHash {
	return h.add(k)
}
func (h pathHash) index(i int) pathHash {
	return h.add("[").add(strconv.Itoa(i)).add("]")
}
