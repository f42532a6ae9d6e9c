// Package baseline lets a team adopt Palisade on an existing codebase
// without a wall of red: a baseline file records the findings accepted
// today, and later scans report and fail only on findings that are not in
// it.
//
// A finding is recognised by a fingerprint that does not depend on line
// numbers, so that editing a file above an accepted finding does not bring
// it back: the rule, the file (slash-separated, relative to the scan root),
// the object (kind, namespace, name), the container and the offending
// field, and for vulnerabilities the package and advisory. Several
// findings can share a fingerprint (two remote ADDs in one Dockerfile
// stage); the baseline counts them, and only as many as it counts are
// accepted.
package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Version is the format version of baseline files this package writes.
const Version = "palisade.io/baseline/v1"

// SuppressionKind marks findings accepted by a baseline.
const SuppressionKind = "baseline"

// maxFileBytes bounds a baseline file: a million findings fit easily.
const maxFileBytes = 256 << 20

// File is a baseline as stored: sorted, one entry per fingerprint, with
// enough context (rule, file, object) for a reviewer to read it.
type File struct {
	Version string  `json:"version"`
	Entries []Entry `json:"findings"`
}

// Entry is one accepted fingerprint.
type Entry struct {
	Fingerprint string `json:"fingerprint"`
	RuleID      string `json:"ruleID"`
	File        string `json:"file,omitempty"`
	Object      string `json:"object,omitempty"`
	// Count is how many findings with this fingerprint are accepted.
	Count int `json:"count"`
}

// Fingerprint identifies a finding independently of its line. root is
// the directory file paths are made relative to ("" keeps them as given).
func Fingerprint(f finding.Finding, root string) string {
	h := sha256.New()
	for _, part := range []string{
		f.RuleID, RelPath(f.File, root),
		f.Object.Kind, f.Object.Namespace, f.Object.Name,
		f.Container, f.Field, vulnKey(f),
	} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func vulnKey(f finding.Finding) string {
	v := f.Vulnerability
	if v == nil {
		return ""
	}
	return v.ID + "|" + v.Package.Ecosystem + "|" + v.Package.Name + "|" + v.Installed
}

// RelPath makes file relative to root and slash-separated, so that the
// same repository scanned from another directory or machine gives the
// same fingerprints. Files outside root, and stdin, are kept as given.
func RelPath(file, root string) string {
	if file == "" || root == "" || strings.HasPrefix(file, "<") {
		return filepath.ToSlash(file)
	}
	absFile, err1 := filepath.Abs(file)
	absRoot, err2 := filepath.Abs(root)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(filepath.Clean(file))
	}
	rel, err := filepath.Rel(absRoot, absFile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(filepath.Clean(file))
	}
	return filepath.ToSlash(rel)
}

// FromReport builds the baseline accepting every unsuppressed finding of
// r. Findings already exempted (annotation, policy, VEX) are not
// recorded: their exemption keeps applying on its own terms.
func FromReport(r *finding.Report, root string) *File {
	counts := map[string]*Entry{}
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		fp := Fingerprint(f, root)
		e := counts[fp]
		if e == nil {
			e = &Entry{Fingerprint: fp, RuleID: f.RuleID, File: RelPath(f.File, root), Object: f.Object.String()}
			counts[fp] = e
		}
		e.Count++
	}
	b := &File{Version: Version, Entries: make([]Entry, 0, len(counts))}
	for _, e := range counts {
		b.Entries = append(b.Entries, *e)
	}
	sort.Slice(b.Entries, func(i, j int) bool {
		x, y := b.Entries[i], b.Entries[j]
		if x.File != y.File {
			return x.File < y.File
		}
		if x.Object != y.Object {
			return x.Object < y.Object
		}
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.Fingerprint < y.Fingerprint
	})
	return b
}

// Write writes the baseline as indented JSON (diffs stay readable in
// review). The output depends only on the baseline.
func (b *File) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// WriteFile writes the baseline to path, replacing it atomically.
func (b *File) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := b.Write(&buf); err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".baseline-*")
	if err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	return nil
}

// Read reads a baseline file written by Write.
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("baseline %s: larger than %d MiB", path, maxFileBytes>>20)
	}
	var b File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if b.Version != Version {
		return nil, fmt.Errorf("baseline %s: version %q, want %q", path, b.Version, Version)
	}
	for i, e := range b.Entries {
		if e.Fingerprint == "" || e.Count < 1 {
			return nil, fmt.Errorf("baseline %s: entry %d: %w", path, i, errBadEntry)
		}
	}
	return &b, nil
}

// aliasFingerprint returns the fingerprint of f under one of its rule's
// former IDs that still has a count left for f's rule, taking one from
// it, or "" when there is none.
func aliasFingerprint(f finding.Finding, root string, aliases []string, counts map[string]int, viaAlias map[[2]string]int) string {
	id := f.RuleID
	for _, a := range aliases {
		f.RuleID = a
		fp := Fingerprint(f, root)
		if counts[fp] == 0 {
			continue
		}
		key := [2]string{fp, id}
		n, seen := viaAlias[key]
		if !seen {
			n = counts[fp]
		}
		if n == 0 {
			continue
		}
		viaAlias[key] = n - 1
		return fp
	}
	return ""
}

var errBadEntry = errors.New("needs a fingerprint and a count of at least 1")

// Apply marks the findings of r that the baseline accepts as suppressed
// (kind "baseline"), so they stay visible in JSON and SARIF but no longer
// count against --fail-on, and recomputes the summary. Findings are
// matched in report order, each fingerprint up to its count. It returns
// how many findings the baseline accepted and how many of its entries
// matched nothing (fixed since: the baseline can be rewritten smaller).
//
// An entry recorded under a rule's former ID (an alias in r.Rules) keeps
// accepting that rule's findings. When one rule was split into several,
// the entry accepts up to its count of each of them: it accepted "this
// container lacks resources" as a whole, which is now one finding per
// missing resource.
func (b *File) Apply(r *finding.Report, root, name string) (accepted, stale int) {
	counts := make(map[string]int, len(b.Entries))
	for _, e := range b.Entries {
		counts[e.Fingerprint] += e.Count
	}
	left := maps.Clone(counts)
	aliases := map[string][]string{}
	for _, ri := range r.Rules {
		aliases[ri.ID] = ri.Aliases
	}
	// viaAlias counts what is left of an entry matched through an alias,
	// separately for each rule that alias now stands for.
	viaAlias := map[[2]string]int{}
	used := map[string]bool{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Suppressed {
			continue
		}
		fp := Fingerprint(*f, root)
		if left[fp] > 0 {
			left[fp]--
		} else if fp = aliasFingerprint(*f, root, aliases[f.RuleID], counts, viaAlias); fp == "" {
			continue
		}
		used[fp] = true
		f.Suppressed = true
		f.Suppression = &finding.Suppression{Kind: SuppressionKind, Reason: "accepted in baseline " + name}
		accepted++
	}
	for _, e := range b.Entries {
		if !used[e.Fingerprint] {
			stale++
		}
	}
	s := finding.Summarize(r.Findings)
	s.Objects, s.Errors, s.Partial = r.Summary.Objects, r.Summary.Errors, r.Summary.Partial
	r.Summary = s
	return accepted, stale
}
