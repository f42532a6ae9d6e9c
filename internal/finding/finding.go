// Package finding defines the one result type shared by every Palisade
// scanner and every output format.
//
// The JSON names of Finding, ObjectRef and Summary are a public, documented
// schema (docs/output-schema.md): later scanners add fields, they never rename
// or remove the ones here.
package finding

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Severity orders findings. The zero value is SeverityUnknown.
type Severity int

// Severities from least to most severe.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// String returns the upper-case name used in every output format.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "UNKNOWN"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	upper := strings.ToUpper(strings.TrimSpace(name))
	for i, n := range severityNames {
		if n == upper {
			return Severity(i), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", name)
}

// MarshalText writes the severity name, so JSON and YAML carry "HIGH", not 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// AllSeverities lists the named severities from most to least severe.
func AllSeverities() []Severity {
	return []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}
}

// ObjectRef names the object a finding is about. For a Dockerfile, Kind is
// "Dockerfile" and Name the stage or file name.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty" yaml:"apiVersion,omitempty"`
	Kind       string `json:"kind" yaml:"kind"`
	Namespace  string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Name       string `json:"name" yaml:"name"`
}

// String renders the reference as kubectl does: Kind/namespace/name.
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Suppression records why a finding does not count against the exit code.
type Suppression struct {
	// Kind is "annotation" (palisade.io/exempt on the object), "policy"
	// (an exception in the policy file), "vex" (an OpenVEX statement),
	// "baseline" (accepted in a baseline file) or "namespace-policy" (a
	// namespace's pod-security.kubernetes.io/enforce label switched the
	// check off).
	Kind string `json:"kind" yaml:"kind"`
	// Reason is the justification the exception gave; it is mandatory.
	Reason string `json:"reason" yaml:"reason"`
	// Expires is when a policy exception stops applying, if it has an expiry.
	Expires *time.Time `json:"expires,omitempty" yaml:"expires,omitempty"`
}

// Reference points at a standard or guide behind a rule.
type Reference struct {
	// Title names the document and section, e.g. "CIS Kubernetes Benchmark 5.2.2".
	Title string `json:"title" yaml:"title"`
	URL   string `json:"url,omitempty" yaml:"url,omitempty"`
}

// Finding is one rule violated by one object.
type Finding struct {
	RuleID   string   `json:"ruleID" yaml:"ruleID"`
	Severity Severity `json:"severity" yaml:"severity"`
	Title    string   `json:"title" yaml:"title"`
	// Message says what exactly is wrong with this object.
	Message string    `json:"message" yaml:"message"`
	Object  ObjectRef `json:"object" yaml:"object"`
	// File and Line locate the object (or the offending field) in the input;
	// empty for objects read from a live cluster.
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	Line int    `json:"line,omitempty" yaml:"line,omitempty"`
	// Field is the path of the offending field inside the object, e.g.
	// spec.template.spec.containers[0].securityContext.privileged.
	Field string `json:"field,omitempty" yaml:"field,omitempty"`
	// Container names the container at fault, when there is one.
	Container   string       `json:"container,omitempty" yaml:"container,omitempty"`
	Suppressed  bool         `json:"suppressed" yaml:"suppressed"`
	Suppression *Suppression `json:"suppression,omitempty" yaml:"suppression,omitempty"`
	// Remediation says how to fix it; the rule's references and tags are
	// in Report.Rules, once per rule rather than once per finding.
	Remediation string `json:"remediation,omitempty" yaml:"remediation,omitempty"`
	// Vulnerability is set on findings of the vulnerability matcher (rule
	// ID = the vulnerability ID): the package, versions and scores.
	Vulnerability *Vulnerability `json:"vulnerability,omitempty" yaml:"vulnerability,omitempty"`
}

// Vulnerability describes a known vulnerability of an installed package.
type Vulnerability struct {
	// ID is the identifier of the advisory matched (GO-2022-0969,
	// CVE-2024-0727, DEBIAN-CVE-2024-0727, GHSA-..., DSA-...).
	ID string `json:"id" yaml:"id"`
	// Aliases are the other identifiers of the same vulnerability.
	Aliases []string `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	// Package is the package found vulnerable.
	Package VulnerablePackage `json:"package" yaml:"package"`
	// Installed is the version found (for Debian, Ubuntu and Alpine, the
	// source package's version the advisory is written against).
	Installed string `json:"installed" yaml:"installed"`
	// Fixed is the first version without the vulnerability; "" means there
	// is no fix yet.
	Fixed string `json:"fixed,omitempty" yaml:"fixed,omitempty"`
	// FixState says whether and how the vulnerability is fixed: one of the
	// FixState constants ("fixed", "affected", "will_not_fix",
	// "fix_deferred", "end_of_life").
	FixState string `json:"fixState,omitempty" yaml:"fixState,omitempty"`
	// FixStateReason is the distribution's own word for the state, where
	// it gave one ("no-dsa", "ignored", "postponed").
	FixStateReason string `json:"fixStateReason,omitempty" yaml:"fixStateReason,omitempty"`
	// CVSS are the scores the advisory gives, each with its vector, then
	// NVD's scores of its CVE (Source "NVD").
	CVSS []CVSS `json:"cvss,omitempty" yaml:"cvss,omitempty"`
	// SeveritySource says where Finding.Severity comes from: the
	// distribution whose own rating was used ("Debian", "Ubuntu", "Red
	// Hat" ...), the advisory's CVSS ("CVSS_V4", "CVSS_V3", "CVSS_V2"),
	// NVD's CVSS of the CVE ("NVD"), or GitHub's rating ("GitHub"); ""
	// when nobody rates it.
	SeveritySource string `json:"severitySource,omitempty" yaml:"severitySource,omitempty"`
	// KEV is set when CISA's Known Exploited Vulnerabilities catalogue
	// lists the vulnerability (or a CVE alias of it).
	KEV *KEV `json:"kev,omitempty" yaml:"kev,omitempty"`
	// EPSS is the vulnerability's EPSS score, the probability of
	// exploitation activity in the next 30 days (FIRST).
	EPSS *EPSS `json:"epss,omitempty" yaml:"epss,omitempty"`
	// Reachable says, for Go binaries, whether the binary links the
	// advisory's vulnerable symbols: ReachableTrue, ReachableFalse or
	// ReachableUnknown; "" for other ecosystems.
	Reachable string `json:"reachable,omitempty" yaml:"reachable,omitempty"`
	// Symbols are the vulnerable symbols found in the binary, as
	// "import/path.Func" or "import/path.Type.Method".
	Symbols []string `json:"symbols,omitempty" yaml:"symbols,omitempty"`
	// Priority is what to fix first, P1 .. P4 (see PriorityOf).
	Priority Priority `json:"priority,omitempty" yaml:"priority,omitempty"`
	// Layer is the digest of the image layer that introduced the package.
	Layer string `json:"layer,omitempty" yaml:"layer,omitempty"`
	// Links are the advisory's URLs, the most useful first.
	Links []string `json:"links,omitempty" yaml:"links,omitempty"`
}

// VulnerablePackage names the package of a Vulnerability.
type VulnerablePackage struct {
	Name string `json:"name" yaml:"name"`
	// Ecosystem is the OSV ecosystem, with release ("Debian:12", "Go").
	Ecosystem string `json:"ecosystem" yaml:"ecosystem"`
	// Version is the package's own version (a binary package's, which may
	// differ from Installed).
	Version string `json:"version" yaml:"version"`
	PURL    string `json:"purl,omitempty" yaml:"purl,omitempty"`
	// SourceName is the source package the advisory names, when it is not Name.
	SourceName string `json:"sourceName,omitempty" yaml:"sourceName,omitempty"`
	// Dev is true for a development dependency of a repository's lock file.
	Dev bool `json:"dev,omitempty" yaml:"dev,omitempty"`
}

// Fix states of a vulnerability, named as Trivy names them.
const (
	FixStateFixed      = "fixed"
	FixStateAffected   = "affected"
	FixStateWillNotFix = "will_not_fix"
	FixStateDeferred   = "fix_deferred"
	FixStateEndOfLife  = "end_of_life"
)

// FixStates lists the fix states.
var FixStates = []string{FixStateFixed, FixStateAffected, FixStateWillNotFix, FixStateDeferred, FixStateEndOfLife}

// CVSS is one Common Vulnerability Scoring System rating.
type CVSS struct {
	// Version is "2.0", "3.0", "3.1" or "4.0".
	Version string `json:"version" yaml:"version"`
	Vector  string `json:"vector" yaml:"vector"`
	// Score is the score computed from the vector.
	Score float64 `json:"score" yaml:"score"`
	// Source is "NVD" for NVD's score of the CVE, "" for the advisory's own.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// KEV is an entry of CISA's Known Exploited Vulnerabilities catalogue.
type KEV struct {
	CVE       string `json:"cve" yaml:"cve"`
	DateAdded string `json:"dateAdded" yaml:"dateAdded"`
	DueDate   string `json:"dueDate,omitempty" yaml:"dueDate,omitempty"`
	// Ransomware is "Known" when the CVE is used in ransomware campaigns.
	Ransomware string `json:"ransomware,omitempty" yaml:"ransomware,omitempty"`
}

// EPSS is an exploit prediction score (0..1) and its percentile (0..1).
type EPSS struct {
	CVE        string  `json:"cve" yaml:"cve"`
	Score      float64 `json:"score" yaml:"score"`
	Percentile float64 `json:"percentile" yaml:"percentile"`
}

// Location renders file:line, or "" when the finding has no file.
func (f Finding) Location() string {
	switch {
	case f.File == "":
		return ""
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	default:
		return f.File
	}
}

// Summary counts findings; suppressed findings are counted apart.
type Summary struct {
	Total      int            `json:"total" yaml:"total"`
	Suppressed int            `json:"suppressed" yaml:"suppressed"`
	BySeverity map[string]int `json:"bySeverity" yaml:"bySeverity"`
	// Objects is how many objects (or files) were evaluated.
	Objects int `json:"objects" yaml:"objects"`
	// Errors is how many inputs could not be read; see Report.Problems.
	Errors int `json:"errors" yaml:"errors"`
	// NotUnderstood is how many objects, documents or files of the input
	// a configuration scan could not read or understand (an unknown
	// apiVersion, a document that does not parse, a field of the wrong
	// type), so did not evaluate; each is an error in Report.Problems.
	// Only scans of objects count it (scan config, repo and cluster); nil
	// means the analyser does not count objects this way.
	NotUnderstood *int `json:"notUnderstood,omitempty" yaml:"notUnderstood,omitempty"`
	// Partial is true when part of the target could not be read (for
	// example resources the scanner may not list): findings may be missing.
	Partial bool `json:"partial,omitempty" yaml:"partial,omitempty"`
}

// Summarize counts the unsuppressed findings by severity.
func Summarize(findings []Finding) Summary {
	s := Summary{BySeverity: map[string]int{}}
	for _, sev := range AllSeverities() {
		s.BySeverity[sev.String()] = 0
	}
	var bySeverity [len(severityNames)]int
	for i := range findings {
		f := &findings[i]
		if f.Suppressed {
			s.Suppressed++
			continue
		}
		s.Total++
		if f.Severity < 0 || int(f.Severity) >= len(severityNames) {
			s.BySeverity[SeverityUnknown.String()]++
		} else {
			bySeverity[f.Severity]++
		}
	}
	for sev, n := range bySeverity {
		if n > 0 {
			s.BySeverity[Severity(sev).String()] += n
		}
	}
	return s
}

// AtOrAbove reports whether any unsuppressed finding has at least the given severity.
func AtOrAbove(findings []Finding, min Severity) bool {
	for _, f := range findings {
		if !f.Suppressed && f.Severity >= min {
			return true
		}
	}
	return false
}

// Sort orders findings deterministically: by file, line, object, then
// severity (most severe first) and rule ID. Findings that compare equal
// keep their order (the sort is stable).
//
// A large scan sorts over a hundred thousand findings of ~200 bytes each:
// the sort orders indexes, comparing the findings in place, and then
// moves each finding once, instead of swapping whole findings at every
// step. It ran on one core at the end of every scan (~40 ms for 120,000
// findings), so large inputs are sorted in runs, one per core, and the
// runs merged; the order is total (ties broken by index), so the result
// is the same however the work is split.
func Sort(findings []Finding) {
	if len(findings) < 2 {
		return
	}
	idx := make([]int32, len(findings))
	for i := range idx {
		idx[i] = int32(i)
	}
	parts := min(runtime.GOMAXPROCS(0), len(findings)/parallelSortMin)
	permute(findings, sortIndexes(idx, max(parts, 1), func(i, j int32) int {
		if c := compareFindings(&findings[i], &findings[j]); c != 0 {
			return c
		}
		return cmp.Compare(i, j) // stability
	}))
}

// parallelSortMin is the fewest findings per run worth a goroutine.
const parallelSortMin = 8192

// sortIndexes sorts idx by compare, a total order, in parts runs sorted
// concurrently and then merged pairwise (each round's merges
// concurrently too). It returns the sorted indexes, in idx or in a
// buffer of the same length.
func sortIndexes(idx []int32, parts int, compare func(i, j int32) int) []int32 {
	if parts <= 1 {
		slices.SortFunc(idx, compare)
		return idx
	}
	bounds := make([]int, parts+1)
	for p := range bounds {
		bounds[p] = p * len(idx) / parts
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { slices.SortFunc(idx[bounds[p]:bounds[p+1]], compare) })
	}
	wg.Wait()
	src, dst := idx, make([]int32, len(idx))
	for len(bounds) > 2 {
		next := []int{0}
		// Each merge of the round is itself cut into pieces, so that
		// the last round (one merge) still runs on every core.
		pieces := max(1, parts/((len(bounds)-1)/2))
		for p := 0; p+1 < len(bounds); p += 2 {
			lo := bounds[p]
			if p+2 >= len(bounds) { // an odd run out: carried over as it is
				wg.Go(func() { copy(dst[lo:], src[lo:]) })
				next = append(next, len(idx))
				break
			}
			mid, hi := bounds[p+1], bounds[p+2]
			a, b, out := src[lo:mid], src[mid:hi], dst[lo:hi]
			for q := range pieces {
				from, to := q*len(out)/pieces, (q+1)*len(out)/pieces
				wg.Go(func() {
					i, j := coRank(from, a, b, compare), coRank(to, a, b, compare)
					mergeRuns(out[from:to], a[i:j], b[from-i:to-j], compare)
				})
			}
			next = append(next, hi)
		}
		wg.Wait()
		src, dst, bounds = dst, src, next
	}
	return src
}

// coRank returns how many of the k first items of the merge of the
// sorted runs a and b come from a (compare is a total order: no ties).
func coRank(k int, a, b []int32, compare func(i, j int32) int) int {
	lo, hi := max(0, k-len(b)), min(k, len(a))
	for lo < hi {
		i := int(uint(lo+hi) >> 1)
		// a[i] is among the first k when fewer than k-i items of b
		// precede it.
		if compare(a[i], b[k-i-1]) < 0 {
			lo = i + 1
		} else {
			hi = i
		}
	}
	return lo
}

// mergeRuns merges the sorted runs a and b into out (len(a)+len(b)).
func mergeRuns(out, a, b []int32, compare func(i, j int32) int) {
	k := 0
	for len(a) > 0 && len(b) > 0 {
		if compare(b[0], a[0]) < 0 {
			out[k], b = b[0], b[1:]
		} else {
			out[k], a = a[0], a[1:]
		}
		k++
	}
	k += copy(out[k:], a)
	copy(out[k:], b)
}

// compareFindings is Sort's order.
func compareFindings(a, b *Finding) int {
	if a.File != b.File {
		return strings.Compare(a.File, b.File)
	}
	if a.Line != b.Line {
		return cmp.Compare(a.Line, b.Line)
	}
	if c := compareRefs(a.Object, b.Object); c != 0 {
		return c
	}
	if a.Severity != b.Severity {
		return cmp.Compare(b.Severity, a.Severity)
	}
	if c := strings.Compare(a.RuleID, b.RuleID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Container, b.Container); c != 0 {
		return c
	}
	return strings.Compare(a.Message, b.Message)
}

// permute rearranges s in place so that the new s[k] is the old
// s[order[k]], following each cycle of the permutation once. order is
// consumed (overwritten).
func permute[T any](s []T, order []int32) {
	for start := range order {
		if order[start] < 0 {
			continue
		}
		tmp := s[start]
		k := start
		for {
			from := int(order[k])
			order[k] = -1
			if from == start {
				s[k] = tmp
				break
			}
			s[k] = s[from]
			k = from
		}
	}
}

// compareRefs orders object references as their String forms would sort,
// without building the strings (sorting compares millions of times).
func compareRefs(a, b ObjectRef) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Problem is an input that could not be read, or was skipped. Problems never
// stop a scan: the rest of the input is still scanned.
type Problem struct {
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	Line int    `json:"line,omitempty" yaml:"line,omitempty"`
	// Level is "error" (the input could not be scanned; exit code 2),
	// "warning" (scanned, but something needs attention, such as an expired
	// exception) or "note" (skipped on purpose, e.g. YAML that is not a
	// Kubernetes object).
	Level   string `json:"level" yaml:"level"`
	Message string `json:"message" yaml:"message"`
}

// Problem levels.
const (
	LevelError   = "error"
	LevelWarning = "warning"
	LevelNote    = "note"
)

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if loc == "" {
		return p.Message
	}
	return loc + ": " + p.Message
}

// RuleInfo is the metadata of one check of any analyser (workload and
// Dockerfile rules, cluster and RBAC rules, node audit, audit-log
// detections, encryption, network policies, runtime): the one shape the
// catalogue (internal/catalog), `palisade rules`, docs/rules.md,
// --rules selection, exemptions and every output format read.
//
// How to fill it: an analyser keeps its own check type and pure check
// function and exposes this metadata (rule.Rule.Info, nodeaudit.Check.Info,
// auditlog.Detection.Info, encryption.Rules, netpol.Rules). ID, Title,
// Severity (the risk, never the profile), Description (why it matters) and
// Remediation are required. Frameworks places the check in the frameworks
// auditors report against (see Frameworks). Analyser and Peers are filled
// by the catalogue, not by the analyser: Analyser from the adapter that
// read the check, Peers from internal/catalog/peers/*.yaml.
type RuleInfo struct {
	ID          string      `json:"id" yaml:"id"`
	Title       string      `json:"title" yaml:"title"`
	Severity    Severity    `json:"severity" yaml:"severity"`
	Description string      `json:"description" yaml:"description"`
	Remediation string      `json:"remediation,omitempty" yaml:"remediation,omitempty"`
	References  []Reference `json:"references,omitempty" yaml:"references,omitempty"`
	Tags        []string    `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Aliases are the rule's former IDs (see rule.Rule.Aliases); baselines
	// written under a former ID still match its findings.
	Aliases []string `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	// Analyser names the analyser that runs the check: workload,
	// dockerfile, cluster, rbac, node, audit, encryption, netpol, runtime.
	Analyser   string     `json:"analyser,omitempty" yaml:"analyser,omitempty"`
	Frameworks Frameworks `json:"frameworks,omitzero" yaml:"frameworks,omitempty"`
	// Peers are the equivalent checks of other tools, from
	// internal/catalog/peers.
	Peers []PeerCheck `json:"peers,omitempty" yaml:"peers,omitempty"`
}

// Frameworks places a check in the security frameworks users report
// against. Each list holds control IDs exactly as the framework
// definitions in internal/catalog/frameworks write them; a test fails on
// an ID no framework defines. Leave a list empty when the framework has no
// control the check proves (never map loosely to fill a column).
type Frameworks struct {
	// CIS lists CIS Kubernetes Benchmark v1.12 sections, e.g. "5.2.2"
	// (workload, RBAC and policy checks are in section 5; node checks in
	// 1 to 4).
	CIS []string `json:"cis,omitempty" yaml:"cis,omitempty"`
	// NSA lists sections of the NSA/CISA Kubernetes Hardening Guide v1.2,
	// by the IDs of internal/catalog/frameworks/nsa.yaml, e.g.
	// "pod-security.non-root", "network.policies", "authz.rbac".
	NSA []string `json:"nsa,omitempty" yaml:"nsa,omitempty"`
	// MITRE lists MITRE ATT&CK technique IDs the check helps prevent or
	// detect, e.g. "T1611" (Escape to Host), "T1552.007" (Container API).
	MITRE []string `json:"mitre,omitempty" yaml:"mitre,omitempty"`
	// PSS lists Pod Security Standards controls as "<level>/<control>",
	// e.g. "baseline/privileged-containers",
	// "restricted/running-as-non-root".
	PSS []string `json:"pss,omitempty" yaml:"pss,omitempty"`
}

// IsZero reports whether no framework is mapped.
func (f Frameworks) IsZero() bool {
	return len(f.CIS) == 0 && len(f.NSA) == 0 && len(f.MITRE) == 0 && len(f.PSS) == 0
}

// Merge returns the union of two mappings, each list without duplicates.
func (f Frameworks) Merge(o Frameworks) Frameworks {
	return Frameworks{CIS: union(f.CIS, o.CIS), NSA: union(f.NSA, o.NSA), MITRE: union(f.MITRE, o.MITRE), PSS: union(f.PSS, o.PSS)}
}

func union(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := append([]string(nil), a...)
	seen := map[string]bool{}
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// PeerCheck names one check of another tool: Tool is trivy, kubescape,
// polaris, kube-score, kube-linter or kube-bench; ID as that tool's
// documentation writes it ("KSV-0017", "C-0057", "runAsRootAllowed").
type PeerCheck struct {
	Tool string `json:"tool" yaml:"tool"`
	ID   string `json:"id" yaml:"id"`
}

// Report is what a scan produces and every output format renders.
type Report struct {
	Findings []Finding `json:"findings" yaml:"findings"`
	Summary  Summary   `json:"summary" yaml:"summary"`
	Problems []Problem `json:"problems,omitempty" yaml:"problems,omitempty"`
	// Rules describes each rule that produced findings: description,
	// remediation, references and tags.
	Rules []RuleInfo `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Compliance holds one result per framework asked for (--framework).
	Compliance []Compliance `json:"compliance,omitempty" yaml:"compliance,omitempty"`
	// Inputs counts, per analyser (workload, rbac, dockerfile, cluster),
	// the objects it examined, so that a compliance report never calls a
	// control passed when its checks had nothing to look at.
	Inputs map[string]int `json:"-" yaml:"-"`
}

// Control statuses of a compliance report.
const (
	ControlPassed        = "passed"
	ControlFailed        = "failed"
	ControlNotApplicable = "not-applicable"
	ControlManual        = "manual"
)

// Compliance is a framework's per-control result and score. Score is
// the percentage of assessed controls that passed:
// 100 × passed / (passed + failed); not-applicable and manual controls
// are excluded. It is nil when no control could be assessed.
type Compliance struct {
	Framework     string          `json:"framework" yaml:"framework"`
	Title         string          `json:"title" yaml:"title"`
	Version       string          `json:"version,omitempty" yaml:"version,omitempty"`
	Score         *float64        `json:"score" yaml:"score"`
	Passed        int             `json:"passed" yaml:"passed"`
	Failed        int             `json:"failed" yaml:"failed"`
	NotApplicable int             `json:"notApplicable" yaml:"notApplicable"`
	Manual        int             `json:"manual" yaml:"manual"`
	Controls      []ControlResult `json:"controls" yaml:"controls"`
}

// ControlResult is one control's outcome.
type ControlResult struct {
	ID     string `json:"id" yaml:"id"`
	Title  string `json:"title" yaml:"title"`
	Status string `json:"status" yaml:"status"`
	// Checks are the checks that assessed the control in this run;
	// FailedChecks those with findings, Findings how many.
	Checks       []string `json:"checks,omitempty" yaml:"checks,omitempty"`
	FailedChecks []string `json:"failedChecks,omitempty" yaml:"failedChecks,omitempty"`
	Findings     int      `json:"findings,omitempty" yaml:"findings,omitempty"`
	// Reason says why a control is not applicable or manual.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
}

// NewReport sorts the findings and computes the summary.
func NewReport(findings []Finding, problems []Problem, objects int, rules []RuleInfo) *Report {
	if findings == nil {
		findings = []Finding{}
	}
	Sort(findings)
	s := Summarize(findings)
	s.Objects = objects
	for _, p := range problems {
		if p.Level == LevelError {
			s.Errors++
		}
	}
	return &Report{Findings: findings, Summary: s, Problems: problems, Rules: rules}
}
