package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/imageref"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Endpoints.
const (
	EndpointValidate = "validate"
	EndpointMutate   = "mutate"
)

// Decisions, the values of the decision metric label.
const (
	decisionAllowed    = "allowed"
	decisionDenied     = "denied"
	decisionWarned     = "warned"
	decisionAudited    = "audited"
	decisionExempt     = "exempt"
	decisionBreakGlass = "break-glass"
	decisionPatched    = "patched"
	decisionSkipped    = "skipped"
	decisionError      = "error"
)

// Decider answers admission requests with the current policy. It is safe
// for concurrent use.
type Decider struct {
	policy  func() *Policy
	images  *imageChecks
	secrets *pullSecrets
	events  EventSink
	metrics *Metrics
	now     func() time.Time
}

// decision is what one request came to, before it is encoded.
type decision struct {
	resp     *admissionv1.AdmissionResponse
	label    string
	event    *Event
	failOpen []string
}

// Review answers one admission request.
func (d *Decider) Review(ctx context.Context, endpoint string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	dec := d.decide(ctx, endpoint, req)
	if d.metrics != nil {
		d.metrics.decisions.WithLabelValues(endpoint, dec.label).Inc()
	}
	if dec.event != nil && d.events != nil {
		d.events.Emit(ctx, dec.event)
		if d.metrics != nil {
			d.metrics.events.WithLabelValues(dec.event.Type).Inc()
		}
	}
	return dec.resp
}

func (d *Decider) decide(ctx context.Context, endpoint string, req *admissionv1.AdmissionRequest) decision {
	p := d.policy()
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	out := decision{resp: resp, label: decisionSkipped}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return out
	}
	if req.SubResource != "" && req.SubResource != "ephemeralcontainers" {
		return out
	}
	if exempt(p, req) {
		out.label = decisionExempt
		return out
	}
	typed, ref, err := decodeObject(req)
	if err != nil {
		// The API server decoded the object before calling: this is a
		// review that did not come from it. Refuse rather than guess.
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest, Message: "palisade: " + err.Error()}
		out.label = decisionError
		return out
	}
	if typed == nil {
		return out // not a workload kind: allowed
	}
	inv := workload.NewInventory()
	inv.Add(typed, ref, nil)
	w := inv.Objects[0].Workload
	if w == nil {
		return out
	}
	kc := d.keychain(ctx, p, w)

	var findings []finding.Finding
	var patch []patchOp
	if endpoint == EndpointMutate {
		findings, patch, out.failOpen = d.mutate(ctx, p, w, kc)
	} else {
		rc := rule.NewContext(inv, rule.Settings{DefaultPSSLevel: p.levelFor(ref.Namespace), AllowedRegistries: p.settings.AllowedRegistries}, p.rules)
		if findings, err = p.rules.Evaluate(ctx, rc, nil); err != nil {
			resp.Allowed = false
			resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: "palisade: " + err.Error()}
			out.label = decisionError
			return out
		}
		var more []finding.Finding
		more, out.failOpen = d.checkImages(ctx, p, w, kc)
		findings = append(findings, more...)
	}
	now := time.Now()
	if d.now != nil {
		now = d.now()
	}
	rule.ApplyExemptions(findings, p.rules, inv, p.exceptions, now)

	sort.SliceStable(findings, func(i, j int) bool {
		if findings[i].RuleID != findings[j].RuleID {
			return findings[i].RuleID < findings[j].RuleID
		}
		return findings[i].Field < findings[j].Field
	})
	var enforce, warn, audit []Violation
	for _, f := range findings {
		if f.Suppressed {
			continue
		}
		m := p.modeFor(f.RuleID, ref.Namespace)
		v := Violation{RuleID: f.RuleID, Severity: f.Severity.String(), Mode: m, Message: f.Message, Field: f.Field, Container: f.Container}
		switch m {
		case ModeEnforce:
			enforce = append(enforce, v)
		case ModeWarn:
			warn = append(warn, v)
		default:
			audit = append(audit, v)
		}
	}
	breakGlass, refused := breakGlassReason(w), ""
	if breakGlass != "" && !breakGlassAllowed(p, req) {
		breakGlass, refused = "", breakGlass
		why := "break-glass is not enabled by the policy"
		if p.breakGlass {
			why = "the requester is in none of the policy's breakGlassGroups"
		}
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("palisade: break-glass annotation ignored (%s): %s", refused, why))
	}

	for _, v := range warn {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("[%s] %s", v.RuleID, v.Message))
	}
	resp.Warnings = append(resp.Warnings, out.failOpen...)
	if len(audit) > 0 {
		resp.AuditAnnotations = map[string]string{"audit-violations": violationsJSON(audit)}
	}
	all := append(append(append([]Violation{}, enforce...), warn...), audit...)
	ev := &Event{
		Schema: EventSchemaVersion, Time: now.UTC(), Allowed: true, Endpoint: endpoint, UID: string(req.UID),
		Operation: string(req.Operation), Kind: ref.APIVersion + "/" + ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
		User: req.UserInfo.Username, Groups: req.UserInfo.Groups, DryRun: req.DryRun != nil && *req.DryRun,
		Violations: all, Policy: p.Name, PolicyHash: p.Hash,
	}
	base := ev
	switch {
	case breakGlass != "":
		// Admitted whatever was enforced, and always reported.
		ev.Type, ev.BreakGlassReason = EventBreakGlass, breakGlass
		msg := fmt.Sprintf("palisade: break-glass annotation used (%s)", breakGlass)
		if len(enforce) > 0 {
			msg += fmt.Sprintf("; it overrides %d enforced violation(s): %s", len(enforce), joinViolations(enforce))
		}
		resp.Warnings = append([]string{msg}, resp.Warnings...)
		if resp.AuditAnnotations == nil {
			resp.AuditAnnotations = map[string]string{}
		}
		resp.AuditAnnotations["break-glass"] = breakGlass
		if len(enforce) > 0 {
			resp.AuditAnnotations["break-glass-overrides"] = violationsJSON(enforce)
		}
		out.label = decisionBreakGlass
	case len(enforce) > 0:
		resp.Allowed = false
		resp.Result = &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: fmt.Sprintf("palisade: %s %s violates policy %q: %s", ref.Kind, objectName(ref), p.Name, joinViolations(enforce)),
		}
		ev.Type, ev.Allowed = EventDenied, false
		out.label = decisionDenied
	case len(warn) > 0:
		ev.Type = EventWarned
		out.label = decisionWarned
	case len(audit) > 0:
		ev.Type = EventAudited
		out.label = decisionAudited
	case len(out.failOpen) > 0:
		ev.Type = EventCheckFailed
		out.label = decisionWarned
	default:
		ev = nil
		out.label = decisionAllowed
	}
	if ev != nil && len(out.failOpen) > 0 {
		for _, m := range out.failOpen {
			ev.Violations = append(ev.Violations, Violation{RuleID: "admission/check-failed", Severity: finding.SeverityMedium.String(), Mode: ModeWarn, Message: m})
		}
	}
	if refused != "" {
		// A refused attempt is always an event, whatever the verdict.
		if ev == nil {
			ev = base
			ev.Type = EventBreakGlassRefused
		}
		ev.BreakGlassReason = refused
	}
	out.event = ev
	if resp.Allowed && len(patch) > 0 {
		data, err := json.Marshal(patch)
		if err == nil {
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = data, &pt
			if out.label == decisionAllowed {
				out.label = decisionPatched
			}
		}
	}
	return out
}

func objectName(ref finding.ObjectRef) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}

func joinViolations(vs []Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("[%s] %s", v.RuleID, v.Message)
	}
	return strings.Join(parts, "; ")
}

func violationsJSON(vs []Violation) string {
	type short struct {
		RuleID  string `json:"ruleID"`
		Message string `json:"message"`
	}
	out := make([]short, len(vs))
	for i, v := range vs {
		out[i] = short{v.RuleID, v.Message}
	}
	data, _ := json.Marshal(out)
	return string(data)
}

// exempt reports whether the request's namespace, user or groups are exempt.
func exempt(p *Policy, req *admissionv1.AdmissionRequest) bool {
	if req.Namespace != "" && exemptBy(p.exemptNS, req.Namespace) {
		return true
	}
	if exemptBy(p.exemptUsers, req.UserInfo.Username) {
		return true
	}
	for _, g := range req.UserInfo.Groups {
		if exemptBy(p.exemptGroups, g) {
			return true
		}
	}
	return false
}

// breakGlassAllowed: the policy enables break-glass and the requester is
// in one of its break-glass groups.
func breakGlassAllowed(p *Policy, req *admissionv1.AdmissionRequest) bool {
	if !p.breakGlass {
		return false
	}
	for _, g := range req.UserInfo.Groups {
		if exemptBy(p.breakGlassGroup, g) {
			return true
		}
	}
	return false
}

// breakGlassReason returns the break-glass annotation's reason on the
// object or its pod template; an empty reason does not count.
func breakGlassReason(w *workload.Workload) string {
	for _, m := range []*metav1.ObjectMeta{w.Meta, w.PodMeta} {
		if m == nil {
			continue
		}
		if r := strings.TrimSpace(m.Annotations[BreakGlassAnnotation]); r != "" {
			return r
		}
	}
	return ""
}

// keychain returns registry credentials for the workload, read lazily:
// requests answered from the caches never touch the API.
func (d *Decider) keychain(ctx context.Context, p *Policy, w *workload.Workload) authn.Keychain {
	if d.secrets == nil || !p.images.Registry.PullSecrets {
		return authn.DefaultKeychain
	}
	return &lazyKeychain{load: func() (authn.Keychain, error) {
		return d.secrets.keychain(ctx, w.Namespace(), w.Spec.ServiceAccountName, w.Spec.ImagePullSecrets)
	}}
}

type lazyKeychain struct {
	once sync.Once
	load func() (authn.Keychain, error)
	kc   authn.Keychain
	err  error
}

func (l *lazyKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	l.once.Do(func() { l.kc, l.err = l.load() })
	if l.err != nil {
		return nil, l.err
	}
	return l.kc.Resolve(r)
}

// patchOp is one JSON Patch (RFC 6902) operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// jsonPointer turns a field path ("spec.template.spec.containers[0].image")
// into a JSON pointer ("/spec/template/spec/containers/0/image").
func jsonPointer(field string) string {
	var b strings.Builder
	for _, part := range strings.Split(field, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1"))
		if hasIdx {
			b.WriteByte('/')
			b.WriteString(strings.TrimSuffix(idx, "]"))
		}
	}
	return b.String()
}

// imageTask is one container image to check.
type imageTask struct {
	c     workload.Container
	field string
}

func imageTasks(w *workload.Workload) []imageTask {
	var out []imageTask
	for _, c := range workload.Containers(w.Spec) {
		out = append(out, imageTask{c: c, field: w.Field(c.Path + ".image")})
	}
	return out
}

func newImageFinding(w *workload.Workload, id string, sev finding.Severity, title string, t imageTask, msg string) finding.Finding {
	return finding.Finding{RuleID: id, Severity: sev, Title: title, Message: msg, Object: w.Ref, Field: t.field, Container: t.c.Name}
}

// mutate pins every tag to its digest. Failures follow the registry's
// failure policy: Fail makes a finding (decided by its mode), Ignore a
// warning.
func (d *Decider) mutate(ctx context.Context, p *Policy, w *workload.Workload, kc authn.Keychain) ([]finding.Finding, []patchOp, []string) {
	if !p.images.ResolveDigests {
		return nil, nil, nil
	}
	tasks := imageTasks(w)
	type result struct {
		op  *patchOp
		f   *finding.Finding
		msg string
	}
	results := make([]result, len(tasks))
	forEach(len(tasks), func(i int) {
		t := tasks[i]
		if strings.HasPrefix(t.c.Path, "ephemeralContainers") {
			// Added through a subresource whose patches take other paths:
			// checked by the validating endpoint, never patched.
			return
		}
		r, err := imageref.Parse(t.c.Image)
		if err != nil || r.Pinned() {
			return // the image rules report invalid references
		}
		if allowed := p.settings.AllowedRegistries; len(allowed) > 0 && !r.MatchesAny(allowed) {
			return // denied by the allow-list: never contact its registry
		}
		digest, err := d.images.resolve(ctx, p, t.c.Image, kc)
		if err != nil {
			msg := fmt.Sprintf("container %q: %v", t.c.Name, err)
			if p.registryFail == FailOpen {
				results[i].msg = fmt.Sprintf("[%s] %s (not pinned: registry failurePolicy is Ignore)", RuleDigestResolution, msg)
				return
			}
			f := newImageFinding(w, RuleDigestResolution, finding.SeverityMedium, "Image tag could not be resolved to a digest", t, msg)
			results[i].f = &f
			return
		}
		results[i].op = &patchOp{Op: "replace", Path: jsonPointer(t.field), Value: t.c.Image + "@" + digest}
	})
	var fs []finding.Finding
	var ops []patchOp
	var warns []string
	for _, r := range results {
		if r.op != nil {
			ops = append(ops, *r.op)
		}
		if r.f != nil {
			fs = append(fs, *r.f)
		}
		if r.msg != "" {
			warns = append(warns, r.msg)
		}
	}
	return fs, ops, warns
}

// checkImages runs the signature and vulnerability checks of the policy
// on every image, in parallel.
func (d *Decider) checkImages(ctx context.Context, p *Policy, w *workload.Workload, kc authn.Keychain) ([]finding.Finding, []string) {
	sig := p.images.Signatures
	vul := p.images.Vulnerabilities
	if (sig == nil || len(p.keys) == 0) && vul == nil {
		return nil, nil
	}
	tasks := imageTasks(w)
	fs := make([][]finding.Finding, len(tasks))
	warns := make([][]string, len(tasks))
	forEach(len(tasks), func(i int) {
		t := tasks[i]
		r, err := imageref.Parse(t.c.Image)
		if err != nil {
			return
		}
		needSig := sig != nil && len(p.keys) > 0 && (len(sig.Images) == 0 || r.MatchesAny(sig.Images))
		needScan := vul != nil && (len(vul.Images) == 0 || r.MatchesAny(vul.Images))
		if !needSig && !needScan {
			return
		}
		fail := func(id, title string, policy FailurePolicy, sev finding.Severity, err error) {
			msg := fmt.Sprintf("container %q: %v", t.c.Name, err)
			if policy == FailOpen {
				warns[i] = append(warns[i], fmt.Sprintf("[%s] %s (check skipped: failurePolicy is Ignore)", id, msg))
				return
			}
			fs[i] = append(fs[i], newImageFinding(w, id, sev, title, t, msg))
		}
		digest, err := d.images.resolve(ctx, p, t.c.Image, kc)
		if err != nil {
			if needSig {
				fail(RuleSignature, sigTitle, p.registryFail, finding.SeverityHigh, err)
			}
			if needScan {
				fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, err)
			}
			return
		}
		if needSig {
			res, err := d.images.verifySignature(ctx, p, t.c.Image, digest, kc)
			switch {
			case err != nil:
				fail(RuleSignature, sigTitle, p.registryFail, finding.SeverityHigh, err)
			case !res.ok:
				fs[i] = append(fs[i], newImageFinding(w, RuleSignature, finding.SeverityHigh, sigTitle, t,
					fmt.Sprintf("container %q image %q (%s) is not signed by a trusted key: %s", t.c.Name, t.c.Image, digest, res.reason)))
			}
		}
		if needScan {
			res, err := d.images.scan(ctx, p, t.c.Image, digest)
			if err == nil && len(res.gaps) > 0 {
				// Not "no vulnerabilities": a scan that could not check
				// everything fails as a scan does, per its failurePolicy.
				fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, fmt.Errorf("image %q (%s) was not fully checked: %s",
					t.c.Image, digest, strings.Join(res.gaps, "; ")))
			}
			switch {
			case err != nil:
				fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, err)
			case len(res.worst) > 0:
				var ids []string
				for _, f := range res.worst {
					ids = append(ids, f.Title)
				}
				fixable := ""
				if vul.FixableOnly {
					fixable = "fixable "
				}
				threshold := p.vulnSeverity.String()
				if res.unknown {
					threshold += " or of unknown severity"
				}
				fs[i] = append(fs[i], newImageFinding(w, RuleVulnerabilities, res.severity, vulnTitle, t,
					fmt.Sprintf("container %q image %q (%s) has %svulnerabilities at or above %s: %s (e.g. %s)",
						t.c.Name, t.c.Image, digest, fixable, threshold, res.summary, strings.Join(ids, ", "))))
			}
		}
	})
	var all []finding.Finding
	var allWarns []string
	for i := range tasks {
		all = append(all, fs[i]...)
		allWarns = append(allWarns, warns[i]...)
	}
	return all, allWarns
}

const (
	sigTitle  = "Image not signed by a trusted key"
	vulnTitle = "Image has known vulnerabilities"
)

// forEach runs fn for 0..n-1, concurrently when there is more than one.
func forEach(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}
