package nodeaudit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// Status is the outcome of a check.
type Status string

// Check outcomes. NotApplicable is never a failure: the check does not
// concern this host or distribution (no API server on a worker, no etcd
// under MicroK8s).
const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	NotApplicable Status = "not-applicable"
	// Manual: a CIS item whose right value depends on the cluster's use;
	// the audit says what it observed and a person decides.
	Manual Status = "manual"
)

// Benchmark is the CIS Kubernetes Benchmark version the checks are
// numbered after.
const Benchmark = "CIS Kubernetes Benchmark v1.12"

// Check is one audit item: metadata plus a pure function over a Node.
type Check struct {
	ID          string
	Title       string
	Severity    finding.Severity
	Description string
	Remediation string
	// RemediationFor replaces Remediation on a distribution where the fix
	// is made differently (a k3s config key instead of a manifest flag).
	RemediationFor map[Distribution]string
	// CIS lists the CIS Kubernetes Benchmark v1.12 sections it covers;
	// K3s the sections of the K3s and RKE2 CIS self-assessments, when they
	// differ from or add to CIS (nil means the same numbers apply).
	CIS []string
	K3s []string
	// NSA and MITRE place the check in the NSA/CISA Kubernetes Hardening
	// Guide (section IDs of internal/catalog/frameworks/nsa.yaml) and
	// MITRE ATT&CK (technique IDs).
	NSA   []string
	MITRE []string
	// Manual marks a CIS item that needs judgement: Evaluate returns
	// Manual results that say what was observed, never a failure.
	Manual bool
	// Component must be found on the host, else the check is not
	// applicable; "" for checks that decide themselves.
	Component ComponentName
	// Evaluate returns failures (Status Fail) or one NotApplicable result;
	// no result means the check passed.
	Evaluate func(n *Node) []Result
}

// Result is one outcome of a check on one object.
type Result struct {
	CheckID string
	Status  Status
	Message string
	// Object is the component or file at fault; File where the setting
	// came from; Field the flag or configuration key.
	Object finding.ObjectRef
	File   string
	Line   int
	Field  string
}

// references builds the check's references.
func (c *Check) references() []finding.Reference {
	var out []finding.Reference
	for _, s := range c.CIS {
		out = append(out, finding.Reference{Title: Benchmark + " " + s})
	}
	k3s := c.K3s
	if k3s == nil {
		k3s = c.CIS
	}
	for _, s := range k3s {
		out = append(out, finding.Reference{Title: "K3s CIS self-assessment " + s, URL: "https://docs.k3s.io/security/self-assessment-1.12"})
	}
	return out
}

// RemediationOn returns the remediation for a distribution.
func (c *Check) RemediationOn(d Distribution) string {
	if r, ok := c.RemediationFor[d]; ok {
		return r
	}
	return c.Remediation
}

// Tags are the check's tags: node, cis, and manual for a manual item.
func (c *Check) Tags() []string {
	if c.Manual {
		return []string{"node", "cis", "manual"}
	}
	return []string{"node", "cis"}
}

// Info returns the check's metadata in the rule format all outputs share.
func (c *Check) Info() finding.RuleInfo {
	rem := c.Remediation
	for _, d := range []Distribution{Kubeadm, K3s, RKE2, MicroK8s} {
		if r, ok := c.RemediationFor[d]; ok {
			rem += "\n" + string(d) + ": " + r
		}
	}
	r := rule.Rule{ID: c.ID, Title: c.Title, Severity: c.Severity, Description: c.Description,
		Remediation: rem, References: c.references(), Tags: c.Tags(), Frameworks: c.Frameworks()}
	info := r.Info()
	info.Analyser = "node"
	return info
}

// Frameworks returns the check's framework mappings: its CIS v1.12
// sections, NSA/CISA sections and MITRE ATT&CK techniques.
func (c *Check) Frameworks() finding.Frameworks {
	return finding.Frameworks{CIS: c.CIS, NSA: c.NSA, MITRE: c.MITRE}
}

// Outcome is the overall result of one check on a node.
type Outcome struct {
	Check   *Check
	Status  Status
	Results []Result
}

// Evaluate runs every check over the node.
func Evaluate(n *Node, checks []Check) []Outcome {
	out := make([]Outcome, 0, len(checks))
	for i := range checks {
		c := &checks[i]
		o := Outcome{Check: c, Status: Pass}
		if c.Component != "" && !n.Component(c.Component).Found {
			reason := n.Component(c.Component).Absent
			if reason == "" {
				reason = string(c.Component) + " is not configured or running on this node"
			}
			o.Status = NotApplicable
			o.Results = []Result{{CheckID: c.ID, Status: NotApplicable, Message: reason}}
			out = append(out, o)
			continue
		}
		for _, comp := range n.Components {
			comp.unreadConsulted = false
		}
		results := c.Evaluate(n)
		// A check that needed a setting of a file that was not read and
		// still found nothing to report has not passed: say it could
		// not verify (its own messages say so when it reports).
		if len(results) == 0 {
			for _, name := range AllComponents() {
				if comp := n.Components[name]; comp != nil && comp.unreadConsulted {
					results = append(results, Result{Status: Fail, Object: componentRef(name), File: comp.Source,
						Message: fmt.Sprintf("cannot be verified: a setting it needs is not on %s's command line, and %s", name, comp.ConfigErr)})
				}
			}
		}
		for _, r := range results {
			r.CheckID = c.ID
			o.Results = append(o.Results, r)
			switch {
			case r.Status == Fail:
				o.Status = Fail
			case r.Status == Manual && o.Status != Fail:
				o.Status = Manual
			case r.Status == NotApplicable && o.Status == Pass:
				o.Status = NotApplicable
			}
		}
		out = append(out, o)
	}
	return out
}

// Report turns outcomes into a report: failures are findings; checks that
// do not apply are notes saying why; the first note states the
// distribution and the tally.
func Report(n *Node, outcomes []Outcome) *finding.Report {
	var findings []finding.Finding
	var problems []finding.Problem
	var infos []finding.RuleInfo
	tally := map[Status]int{}
	var notApplicable, manual []finding.Problem
	for _, o := range outcomes {
		tally[o.Status]++
		if o.Status == Fail {
			infos = append(infos, o.Check.Info())
		}
		for _, r := range o.Results {
			switch r.Status {
			case Fail:
				findings = append(findings, finding.Finding{RuleID: o.Check.ID, Severity: o.Check.Severity, Title: o.Check.Title,
					Message: r.Message, Object: r.Object, File: r.File, Line: r.Line, Field: r.Field, Remediation: o.Check.RemediationOn(n.Distribution)})
			case Manual:
				manual = append(manual, finding.Problem{Level: finding.LevelNote, File: r.File, Line: r.Line,
					Message: fmt.Sprintf("MANUAL %s (CIS %s): %s: %s", o.Check.ID, strings.Join(o.Check.CIS, ", "), o.Check.Title, r.Message)})
			case NotApplicable:
				// On an empty root every check is not applicable: the
				// error that nothing was found says it once.
				if o.Status == NotApplicable && !n.NothingFound() {
					notApplicable = append(notApplicable, finding.Problem{Level: finding.LevelNote,
						Message: fmt.Sprintf("%s (CIS %s): not applicable: %s", o.Check.ID, strings.Join(o.Check.CIS, ", "), r.Message)})
				}
			}
		}
	}
	evidence := ""
	if len(n.DetectedBy) > 0 {
		evidence = " (" + strings.Join(n.DetectedBy, ", ") + ")"
	}
	problems = append(problems, finding.Problem{Level: finding.LevelNote, Message: fmt.Sprintf(
		"node audit of %s against the %s: distribution %s%s; %d checks: %d passed, %d failed, %d manual, %d not applicable",
		n.Root, Benchmark, n.Distribution, evidence, len(outcomes), tally[Pass], tally[Fail], tally[Manual], tally[NotApplicable])})
	problems = append(problems, n.Problems...)
	if !n.NothingFound() {
		problems = append(problems, manual...)
	}
	problems = append(problems, notApplicable...)
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	return finding.NewReport(findings, problems, len(outcomes), infos)
}

// Helpers for check functions.

func componentRef(c ComponentName) finding.ObjectRef {
	return finding.ObjectRef{Kind: "Component", Name: string(c)}
}

func fileRef(p string) finding.ObjectRef { return finding.ObjectRef{Kind: "File", Name: p} }

// failFlag reports a flag's value (or absence) as a failure, citing the
// source of the value.
func failFlag(c *Component, flag, format string, args ...any) Result {
	r := Result{Status: Fail, Message: fmt.Sprintf(format, args...), Object: componentRef(c.Name), Field: "--" + flag, File: c.Source}
	if s, ok := c.Flags.Lookup(flag); ok {
		r.File, r.Line = s.Source, s.Line
	}
	return r
}

func notApplicable(format string, args ...any) []Result {
	return []Result{{Status: NotApplicable, Message: fmt.Sprintf(format, args...)}}
}

// manual reports what a manual item observed.
func manualResult(c *Component, flag, format string, args ...any) []Result {
	r := Result{Status: Manual, Message: fmt.Sprintf(format, args...), Object: componentRef(c.Name), File: c.Source}
	if flag != "" {
		r.Field = "--" + flag
		if s, ok := c.Flags.Lookup(flag); ok {
			r.File, r.Line = s.Source, s.Line
		}
	}
	return []Result{r}
}

// listValue splits a comma-separated flag value.
func listValue(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// componentSetting returns a setting as the component resolves it from
// its command line and its --config file (keys is the path in the file):
//   - the kubelet: a command-line flag overrides the KubeletConfiguration
//     file (and its drop-ins), which overrides the defaults;
//   - kube-scheduler and kube-proxy: with --config, the file decides and
//     the flags are ignored; without it, the flag.
//
// field names the flag or key the value came from, for the finding.
//
// When the --config file (or a drop-in) was not read (ConfigErr), a
// setting not on the command line is unknown, not unset: ok is false as
// for an unset one, and the lookup is recorded so that Evaluate says the
// check could not verify it (the checks' messages say so too, see
// configUnread) instead of judging the default.
func componentSetting(c *Component, flag string, keys ...string) (value string, src Setting, field string, ok bool) {
	configWins := (c.Config != nil || c.ConfigErr != "") && (c.Name == Scheduler || c.Name == KubeProxy)
	if !configWins {
		if s, ok := c.Flags.Lookup(flag); ok {
			return s.Value, s, "--" + flag, true
		}
	}
	if len(keys) == 0 {
		return "", Setting{}, "", false
	}
	if c.ConfigErr != "" {
		c.unreadConsulted = true
		return "", Setting{}, "", false
	}
	var cur any = c.Config
	for _, key := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", Setting{}, "", false
		}
		if cur, ok = m[key]; !ok {
			return "", Setting{}, "", false
		}
	}
	field = strings.Join(keys, ".")
	src = Setting{Source: c.ConfigPath}
	if pos, ok := c.ConfigPos[field]; ok {
		src = pos
	}
	switch t := cur.(type) {
	case nil:
		return "", Setting{}, "", false
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			parts = append(parts, scalar(e))
		}
		return strings.Join(parts, ","), src, field, true
	case map[string]any:
		return "", Setting{}, "", false
	}
	return scalar(cur), src, field, true
}

// configUnread reports whether a setting of c that is not on the command
// line may be in a configuration file that was not read; its message
// says so, naming the setting and what the check wants.
func configUnread(c *Component, flag string, keys []string, want string) (Result, bool) {
	if c.ConfigErr == "" || len(keys) == 0 {
		return Result{}, false
	}
	return Result{Status: Fail, Object: componentRef(c.Name), File: c.Source, Field: "--" + flag,
		Message: fmt.Sprintf("--%s (config %s) cannot be verified: it is not on the command line, and %s; want %s",
			flag, strings.Join(keys, "."), c.ConfigErr, want)}, true
}

// kubeletSetting returns a kubelet setting (see componentSetting).
func kubeletSetting(k *Component, flag string, keys ...string) (value, source string, set bool) {
	v, s, _, ok := componentSetting(k, flag, keys...)
	return v, s.Source, ok
}
