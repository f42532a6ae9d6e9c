package render

import "strings"

// maxAlignCells bounds the alignment table of one template (template lines
// × rendered lines); a larger template keeps the lines of its rendered
// output.
const maxAlignCells = 2 << 20

// templateLineMap maps each line of a template's rendered output to the
// template line that wrote it, so findings point into the template file
// their File names. Lines the template writes literally (no action) are
// aligned with the output as the longest common subsequence; a line
// between two aligned ones comes from an action line between them: the
// first whose text before the action starts it (`image: "{{ ... }}"`),
// else the output of the action line met last (an include or toYaml
// writes several lines, a range repeats one). The result is indexed by
// output line - 1; nil when the template or output is too large to align.
func templateLineMap(tmpl, out string) []int {
	t := strings.Split(strings.TrimSuffix(tmpl, "\n"), "\n")
	r := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(t) == 0 || len(r) == 0 || len(t)*len(r) > maxAlignCells {
		return nil
	}
	literal := make([]bool, len(t))
	for i, l := range t {
		literal[i] = strings.TrimSpace(l) != "" && !strings.Contains(l, "{{")
	}
	// lcs[i][j] is the alignment length of r[i:] and t[j:].
	w := len(t) + 1
	lcs := make([]int32, (len(r)+1)*w)
	for i := len(r) - 1; i >= 0; i-- {
		for j := len(t) - 1; j >= 0; j-- {
			switch {
			case literal[j] && r[i] == t[j]:
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			default:
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	m := make([]int, len(r))
	i, j := 0, 0
	next, last := 0, -1 // template lines not yet used; action line met last
	for i < len(r) {
		if j < len(t) && literal[j] && r[i] == t[j] && lcs[i*w+j] == lcs[(i+1)*w+j+1]+1 {
			m[i] = j + 1
			next, last = j+1, -1
			i++
			j++
			continue
		}
		if j < len(t) && lcs[i*w+j] == lcs[i*w+j+1] {
			j++ // template line j writes nothing matched here
			continue
		}
		// r[i] is written by an action between the last aligned
		// template line and j, the next aligned one (or the end).
		m[i] = actionLine(t, r[i], next, j, &last) + 1
		next = max(next, last+1)
		i++
	}
	return m
}

// actionLine picks the template line in [from, to) that wrote out; last
// is the action line that wrote the line before it, if any.
func actionLine(t []string, out string, from, to int, last *int) int {
	to = min(max(to, from), len(t))
	for k := from; k < to; k++ {
		before, _, ok := strings.Cut(t[k], "{{")
		if ok && strings.TrimSpace(before) != "" && strings.HasPrefix(out, before) {
			*last = k
			return k
		}
	}
	if *last >= 0 {
		return *last
	}
	for k := from; k < to; k++ {
		if writesOutput(t[k]) {
			*last = k
			return k
		}
	}
	return min(from, len(t)-1)
}

// writesOutput tells an action line that may print (an include, toYaml,
// a value) from control lines (if, range, end, comments, define).
func writesOutput(line string) bool {
	s := strings.TrimSpace(line)
	if !strings.HasPrefix(s, "{{") {
		return false
	}
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, "{{"), "-"))
	for _, kw := range []string{"/*", "if ", "else", "end", "range ", "with ", "define ", "block ", "$"} {
		if strings.HasPrefix(s, kw) {
			return false
		}
	}
	return true
}
