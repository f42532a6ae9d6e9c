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
	"cmp"
	"hash/fnv"
	"slices"
	"sort"
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

	lines lineIndex
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
	if l := o.lines.lookup(path); l > 0 {
		return l
	}
	return o.Line
}

// lineIndex maps hashed field paths to lines. It is a sorted slice rather
// than a map or the YAML node tree so that 10,000 objects keep only a few
// bytes per field in memory.
type lineIndex []lineEntry

type lineEntry struct {
	hash uint64
	line int32
}

// sortEntries sorts by hash. The sort is stable so that both conversion
// paths, which record entries in the same order, build identical indexes
// even when two paths hash alike.
func (ix lineIndex) sortEntries() {
	slices.SortStableFunc(ix, func(a, b lineEntry) int { return cmp.Compare(a.hash, b.hash) })
}

func (ix lineIndex) get(h uint64) int {
	i := sort.Search(len(ix), func(i int) bool { return ix[i].hash >= h })
	if i < len(ix) && ix[i].hash == h {
		return int(ix[i].line)
	}
	return 0
}

// lookup walks the path's prefixes (at "." and "[" boundaries) and returns
// the line of the deepest one present.
func (ix lineIndex) lookup(path string) int {
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
			l := ix.get(uint64(h))
			if l == 0 {
				return best
			}
			best = l
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
