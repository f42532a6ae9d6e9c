package catalog

import (
	"io/fs"
	"path"
	"strings"
)

// A walker asks every cataloger about every file of an image (about
// 6,700 files for bookworm, ~30 patterns): trying each pattern with
// path.Match per file was about 40 ms of a cold scan. globIndex compiles
// the patterns of a Set's Glob catalogers once, keyed by their last
// segment: a literal last segment (most patterns: "Cargo.lock",
// "status") is one map lookup for all of them, and the others are simple
// prefix/suffix tests ("*.gemspec", "requirements*.txt") or, for the
// rest, path.Match. Only the patterns whose last segment matches are
// matched whole (Match), so the answers are Match's.

// segMatcher matches one pattern segment against a name segment.
type segMatcher struct {
	// kind: literal (name == pre), affix (pre, '*', suf: the name starts
	// with pre and ends with suf, long enough for both), any ("**": the
	// pattern's last segment matches whatever the name ends with), or
	// general (path.Match).
	kind     int
	pre, suf string
	pattern  string
}

const (
	segLiteral = iota
	segAffix
	segAny
	segGeneral
)

func compileSeg(seg string) segMatcher {
	if seg == "**" {
		return segMatcher{kind: segAny}
	}
	if !strings.ContainsAny(seg, `*?[\`) {
		return segMatcher{kind: segLiteral, pre: seg}
	}
	// One '*' and no other meta character: a prefix and a suffix.
	if i := strings.IndexByte(seg, '*'); i >= 0 && !strings.ContainsAny(seg[:i], `*?[\`) && !strings.ContainsAny(seg[i+1:], `*?[\`) {
		return segMatcher{kind: segAffix, pre: seg[:i], suf: seg[i+1:]}
	}
	return segMatcher{kind: segGeneral, pattern: seg}
}

// match reports whether the name segment (no '/') matches; it agrees
// with path.Match, a bad pattern matching nothing.
func (m *segMatcher) match(name string) bool {
	switch m.kind {
	case segLiteral:
		return name == m.pre
	case segAffix:
		return len(name) >= len(m.pre)+len(m.suf) && strings.HasPrefix(name, m.pre) && strings.HasSuffix(name, m.suf)
	case segAny:
		return true
	}
	ok, err := path.Match(m.pattern, name)
	return err == nil && ok
}

// globRef is one pattern of one Glob cataloger of a Set.
type globRef struct {
	cataloger int // index in Set.Catalogers
	pattern   string
	last      segMatcher
}

// globIndex is the compiled form of a Set's Glob catalogers; the others
// (others) are asked one by one.
type globIndex struct {
	byName map[string][]globRef // literal last segments
	rest   []globRef            // every other last segment
	others []int
	maxes  []int64 // each cataloger's size cap (Glob only)
}

func newGlobIndex(cs []Cataloger) *globIndex {
	x := &globIndex{byName: map[string][]globRef{}, maxes: make([]int64, len(cs))}
	for i, c := range cs {
		g, ok := c.(Glob)
		if !ok {
			x.others = append(x.others, i)
			continue
		}
		x.maxes[i] = g.maxSize()
		for _, p := range g.Patterns {
			r := globRef{cataloger: i, pattern: p, last: compileSeg(p[strings.LastIndexByte(p, '/')+1:])}
			if r.last.kind == segLiteral {
				x.byName[r.last.pre] = append(x.byName[r.last.pre], r)
			} else {
				x.rest = append(x.rest, r)
			}
		}
	}
	return x
}

// wanted calls yield with the index of each cataloger of cs that wants
// the file (in no particular order, each once at most), until yield
// returns false. It is Cataloger.Wants of each, faster.
func (x *globIndex) wanted(cs []Cataloger, p string, size int64, mode fs.FileMode, yield func(int) bool) {
	for _, i := range x.others {
		if cs[i].Wants(p, size, mode) && !yield(i) {
			return
		}
	}
	if !mode.IsRegular() {
		return
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	// A cataloger with two matching patterns is reported once: done
	// holds those reported so far.
	var buf [4]int
	done := buf[:0]
	try := func(r *globRef) bool {
		if size > x.maxes[r.cataloger] {
			return true
		}
		for _, d := range done {
			if d == r.cataloger {
				return true
			}
		}
		if !matchSegs(strings.Split(r.pattern, "/"), strings.Split(p, "/")) {
			return true
		}
		done = append(done, r.cataloger)
		return yield(r.cataloger)
	}
	for i := range x.byName[base] {
		if !try(&x.byName[base][i]) {
			return
		}
	}
	for i := range x.rest {
		if r := &x.rest[i]; r.last.match(base) && !try(r) {
			return
		}
	}
}
