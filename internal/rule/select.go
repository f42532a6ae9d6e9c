package rule

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Set is an ordered collection of rules with unique IDs.
type Set struct {
	rules   []*Rule
	byID    map[string]*Rule
	byAlias map[string][]*Rule
	// chunks are the evaluation workers' spare finding buffers (engine.go).
	chunks sync.Pool
}

// NewSet builds a set; duplicate or empty IDs, and an alias that is also a
// rule's ID, are an error.
func NewSet(rules ...*Rule) (*Set, error) {
	s := &Set{byID: map[string]*Rule{}, byAlias: map[string][]*Rule{}}
	for _, r := range rules {
		if err := s.add(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) add(r *Rule) error {
	if r.ID == "" {
		return fmt.Errorf("rule %q: empty ID", r.Title)
	}
	if _, dup := s.byID[r.ID]; dup {
		return fmt.Errorf("rule %s: defined twice", r.ID)
	}
	n := 0
	for _, set := range []bool{r.Workload != nil, r.Object != nil, r.Dockerfile != nil, r.Inventory != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("rule %s: must have exactly one check function, has %d", r.ID, n)
	}
	if _, ok := s.byAlias[r.ID]; ok {
		return fmt.Errorf("rule %s: its ID is another rule's alias", r.ID)
	}
	for _, a := range r.Aliases {
		if _, ok := s.byID[a]; ok || a == r.ID || a == "" {
			return fmt.Errorf("rule %s: alias %q is empty or a rule's ID", r.ID, a)
		}
	}
	for _, a := range r.Aliases {
		s.byAlias[a] = append(s.byAlias[a], r)
	}
	s.byID[r.ID] = r
	s.rules = append(s.rules, r)
	return nil
}

// With returns a new set holding these rules and more.
func (s *Set) With(more ...*Rule) (*Set, error) {
	return NewSet(append(append([]*Rule{}, s.rules...), more...)...)
}

// Rules returns the rules sorted by ID.
func (s *Set) Rules() []*Rule {
	out := append([]*Rule(nil), s.rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns a rule by ID.
func (s *Set) Get(id string) (*Rule, bool) {
	r, ok := s.byID[id]
	return r, ok
}

// ByAlias returns the rules a former ID now stands for, in set order.
func (s *Set) ByAlias(alias string) []*Rule {
	return s.byAlias[alias]
}

// Matches reports whether any selector a user wrote (an ID glob, a tag or
// a former ID) designates the rule with this ID: the one definition of
// "this exemption or override is about that rule". A rule ID not in the
// set matches by glob only.
func (s *Set) Matches(selectors []string, id string) bool {
	r, known := s.byID[id]
	for _, sel := range selectors {
		if MatchID(sel, id) || (known && r.matches(sel)) {
			return true
		}
	}
	return false
}

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Select keeps the rules matching any selector: a tag (pss-baseline,
// hardening ...), an ID glob ("pss/*", "hardening/latest-tag"), a
// former ID, which selects every rule it now stands for, or a framework
// or peer selector (see MatchMapping: "cis-5.2.*", "mitre:T1611",
// "ksv-0017"). A
// selector starting with "-" removes what it matches. No selector, or only
// removals, starts from every rule. A selector matching nothing is an
// error, so a typo never silently disables checks.
func (s *Set) Select(selectors []string) (*Set, error) {
	keep, err := SelectWith(len(s.rules), selectors, func(i int, sel string) bool { return s.rules[i].matches(sel) })
	if err != nil {
		return nil, err
	}
	out := &Set{byID: map[string]*Rule{}, byAlias: map[string][]*Rule{}}
	for _, i := range keep {
		_ = out.add(s.rules[i])
	}
	return out, nil
}

// SelectWith applies selectors, with Select's semantics, to n checks
// that match reports on: the indices kept, in order. The catalogue uses it
// for the checks of every analyser.
func SelectWith(n int, selectors []string, match func(i int, sel string) bool) ([]int, error) {
	var include, exclude []string
	for _, sel := range selectors {
		for _, part := range strings.Split(sel, ",") {
			part = strings.TrimSpace(part)
			switch {
			case part == "":
			case strings.HasPrefix(part, "-"):
				exclude = append(exclude, part[1:])
			default:
				include = append(include, part)
			}
		}
	}
	for _, sel := range append(append([]string{}, include...), exclude...) {
		if err := validGlob(sel); err != nil {
			return nil, err
		}
		found := false
		for i := 0; i < n && !found; i++ {
			found = match(i, sel)
		}
		if !found {
			return nil, fmt.Errorf("rule selector %q matches no rule ID, tag, framework control or peer check ID (see 'palisade rules list')", sel)
		}
	}
	var keep []int
	for i := 0; i < n; i++ {
		ok := len(include) == 0
		for _, sel := range include {
			if match(i, sel) {
				ok = true
				break
			}
		}
		for _, sel := range exclude {
			if match(i, sel) {
				ok = false
			}
		}
		if ok {
			keep = append(keep, i)
		}
	}
	return keep, nil
}

// matches reports whether a selector designates the rule: a tag, a glob
// of its ID, or a glob of one of its former IDs.
func (r *Rule) matches(sel string) bool {
	if r.HasTag(sel) || MatchID(sel, r.ID) {
		return true
	}
	for _, a := range r.Aliases {
		if MatchID(sel, a) {
			return true
		}
	}
	return MatchMapping(sel, r.Frameworks, r.Peers)
}

// MatchID matches a rule ID against a glob where "*" also crosses "/".
func MatchID(glob, id string) bool {
	return glob == id || globAcross(glob, id)
}

// globAcross matches with "*" standing for any run of characters.
func globAcross(glob, s string) bool {
	parts := strings.Split(glob, "*")
	if len(parts) == 1 {
		return glob == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func validGlob(g string) error {
	if strings.ContainsAny(g, " \t[]?") {
		return fmt.Errorf("rule selector %q: only letters, digits, '-', '/', '.', ':' and '*' are allowed", g)
	}
	return nil
}
