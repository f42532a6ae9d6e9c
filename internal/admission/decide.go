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
	"github.com/palisade-sec/palisade/internal/supplychain"
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
	// limits bound the containers of a review and the concurrent image
	// checks; nil means the defaults without a global bound.
	limits *limits
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
	if err := d.limits.checkSize(w); err != nil {
		// Refused before any rule or registry sees it: a spec this
		// large is an attack on the webhook, not a workload.
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: fmt.Sprintf("palisade: %s %s: %v", ref.Kind, objectName(ref), err)}
		out.label = decisionDenied
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
	// The exempt annotation is written by the requester: it counts only
	// for the groups the policy trusts with it. Otherwise only the
	// policy's exceptions apply.
	annotated := inv
	if anns, present := exemptAnnotations(w); present && !inGroups(p.annotationGroup, req) {
		annotated = workload.NewInventory()
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("palisade: %s annotation ignored (%q): %s", rule.ExemptAnnotation, strings.Join(anns, "; "), annotationIgnoredWhy(p)))
	}
	rule.ApplyExemptions(findings, p.rules, annotated, p.exceptions, now)

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
	if breakGlass != "" || refused != "" {
		// Who broke glass for what: the images go to the hub with it.
		ev.Images = workloadImages(w)
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

// workloadImages lists the distinct images of w's containers, in order.
func workloadImages(w *workload.Workload) []string {
	if w == nil || w.Spec == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range workload.Containers(w.Spec) {
		if c.Image != "" && !seen[c.Image] {
			seen[c.Image] = true
			out = append(out, c.Image)
		}
	}
	return out
}

// breakGlassAllowed: the policy enables break-glass and the requester is
// in one of its break-glass groups.
func breakGlassAllowed(p *Policy, req *admissionv1.AdmissionRequest) bool {
	return p.breakGlass && inGroups(p.breakGlassGroup, req)
}

// inGroups reports whether the requester is in a group matching globs.
func inGroups(globs []string, req *admissionv1.AdmissionRequest) bool {
	for _, g := range req.UserInfo.Groups {
		if exemptBy(globs, g) {
			return true
		}
	}
	return false
}

// exemptAnnotation returns the exempt annotation of the object or its pod
// template (the first set, as written), or "".
// exemptAnnotations returns the exempt annotation's values on the object
// and on its pod template, and whether either carries the key at all.
// rule.ApplyExemptions reads both, so both must be judged: an empty value
// on the object must not hide the template's "*: reason".
func exemptAnnotations(w *workload.Workload) (values []string, present bool) {
	for _, m := range []*metav1.ObjectMeta{w.Meta, w.PodMeta} {
		if m == nil {
			continue
		}
		if v, ok := m.Annotations[rule.ExemptAnnotation]; ok {
			present = true
			values = append(values, v)
		}
	}
	return values, present
}

func annotationIgnoredWhy(p *Policy) string {
	if len(p.annotationGroup) == 0 {
		return "the policy trusts no group with it (spec.exemptions.annotationGroups)"
	}
	return "the requester is in none of the policy's annotationGroups"
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
// warning. Each distinct image is resolved once per review.
func (d *Decider) mutate(ctx context.Context, p *Policy, w *workload.Workload, kc authn.Keychain) ([]finding.Finding, []patchOp, []string) {
	if !p.images.ResolveDigests && !p.signaturesRequired() && len(p.verifyRules) == 0 {
		return nil, nil, nil
	}
	var tasks []imageTask
	for _, t := range imageTasks(w) {
		if strings.HasPrefix(t.c.Path, "ephemeralContainers") {
			// Added through a subresource whose patches take other paths:
			// checked by the validating endpoint, never patched.
			continue
		}
		r, err := imageref.Parse(t.c.Image)
		if err != nil || r.Pinned() {
			continue // the image rules report invalid references
		}
		if allowed := p.settings.AllowedRegistries; len(allowed) > 0 && !r.MatchesAny(allowed) {
			continue // denied by the allow-list: never contact its registry
		}
		if !p.images.ResolveDigests && !p.signatureRequired(r) && !p.mutateDigest(r) {
			continue
		}
		// An image whose signature is required is pinned even without
		// resolveDigests: the validating webhook verifies the digest, and
		// only a pinned digest makes it the one that runs.
		tasks = append(tasks, t)
	}
	type resolved struct {
		digest string
		err    error
	}
	images := distinctImages(tasks)
	out := make([]resolved, len(images))
	d.forEachImage(ctx, len(images), func(i int) {
		out[i].digest, out[i].err = d.images.resolve(ctx, p, images[i], kc)
	})
	byImage := make(map[string]resolved, len(images))
	for i, img := range images {
		byImage[img] = out[i]
	}
	var fs []finding.Finding
	var ops []patchOp
	var warns []string
	for _, t := range tasks {
		r := byImage[t.c.Image]
		if r.err != nil {
			msg := fmt.Sprintf("container %q: %v", t.c.Name, r.err)
			if p.registryFail == FailOpen {
				warns = append(warns, fmt.Sprintf("[%s] %s (not pinned: registry failurePolicy is Ignore)", RuleDigestResolution, msg))
				continue
			}
			fs = append(fs, newImageFinding(w, RuleDigestResolution, finding.SeverityMedium, "Image tag could not be resolved to a digest", t, msg))
			continue
		}
		ops = append(ops, patchOp{Op: "replace", Path: jsonPointer(t.field), Value: t.c.Image + "@" + r.digest})
	}
	return fs, ops, warns
}

// distinctImages returns the image references of the tasks, each once, in
// the order first seen.
func distinctImages(tasks []imageTask) []string {
	seen := make(map[string]bool, len(tasks))
	var out []string
	for _, t := range tasks {
		if !seen[t.c.Image] {
			seen[t.c.Image] = true
			out = append(out, t.c.Image)
		}
	}
	return out
}

// signaturesRequired reports whether the policy verifies signatures.
func (p *Policy) signaturesRequired() bool {
	return p.images.Signatures != nil && len(p.keys) > 0
}

// signatureRequired reports whether the image must carry a signature. The
// patterns match every spelling the runtime resolves to the same registry
// (see imageref.RequiredByAny).
func (p *Policy) signatureRequired(r imageref.Ref) bool {
	sig := p.images.Signatures
	return p.signaturesRequired() && (len(sig.Images) == 0 || r.RequiredByAny(sig.Images))
}

// verifyRule returns the verifyImages rule that applies to the image, or nil.
func (p *Policy) verifyRule(r imageref.Ref) *supplychain.Rule {
	if len(p.verifyRules) == 0 {
		return nil
	}
	return supplychain.MatchRule(p.verifyRules, r.Original)
}

// mutateDigest reports whether a verifyImages rule with mutateDigest
// covers the image: the mutating endpoint pins it.
func (p *Policy) mutateDigest(r imageref.Ref) bool {
	vr := p.verifyRule(r)
	return vr != nil && vr.MutateDigest
}

// imageOutcome is what the registry and the scanner said about one image
// reference; every container naming the reference shares it.
type imageOutcome struct {
	needSig, needScan bool
	pinned            bool
	digest            string
	resolveErr        error
	sig               sigResult
	sigErr            error
	rule              *supplychain.Rule
	verify            supplychain.Decision
	verifyErr         error
	scan              scanResult
	scanErr           error
}

// checkImages runs the signature and vulnerability checks of the policy
// on every distinct image, in parallel within the server's bounds.
func (d *Decider) checkImages(ctx context.Context, p *Policy, w *workload.Workload, kc authn.Keychain) ([]finding.Finding, []string) {
	sig := p.images.Signatures
	vul := p.images.Vulnerabilities
	if (sig == nil || len(p.keys) == 0) && vul == nil && len(p.verifyRules) == 0 {
		return nil, nil
	}
	tasks := imageTasks(w)
	images := distinctImages(tasks)
	outcomes := make([]imageOutcome, len(images))
	d.forEachImage(ctx, len(images), func(i int) {
		o := &outcomes[i]
		r, err := imageref.Parse(images[i])
		if err != nil {
			return // the image rules report invalid references
		}
		o.needSig = p.signatureRequired(r)
		o.needScan = vul != nil && (len(vul.Images) == 0 || r.RequiredByAny(vul.Images))
		o.pinned = r.Pinned()
		o.rule = p.verifyRule(r)
		if !o.needSig && !o.needScan && o.rule == nil {
			return
		}
		if o.digest, o.resolveErr = d.images.resolve(ctx, p, images[i], kc); o.resolveErr != nil {
			return
		}
		if o.needSig {
			o.sig, o.sigErr = d.images.verifySignature(ctx, p, images[i], o.digest, kc)
		}
		if o.rule != nil {
			o.verify, o.verifyErr = d.images.verifyRule(ctx, p, o.rule, images[i], o.digest, kc)
		}
		if o.needScan {
			o.scan, o.scanErr = d.images.scan(ctx, p, images[i], o.digest)
		}
	})
	byImage := make(map[string]*imageOutcome, len(images))
	for i, img := range images {
		byImage[img] = &outcomes[i]
	}
	var fs []finding.Finding
	var warns []string
	for _, t := range tasks {
		more, w2 := imageFindings(p, w, t, byImage[t.c.Image])
		fs = append(fs, more...)
		warns = append(warns, w2...)
	}
	return fs, warns
}

// imageFindings turns an image's outcome into the findings and warnings of
// one container naming it.
func imageFindings(p *Policy, w *workload.Workload, t imageTask, o *imageOutcome) (fs []finding.Finding, warns []string) {
	vul := p.images.Vulnerabilities
	fail := func(id, title string, policy FailurePolicy, sev finding.Severity, err error) {
		msg := fmt.Sprintf("container %q: %v", t.c.Name, err)
		if policy == FailOpen {
			warns = append(warns, fmt.Sprintf("[%s] %s (check skipped: failurePolicy is Ignore)", id, msg))
			return
		}
		fs = append(fs, newImageFinding(w, id, sev, title, t, msg))
	}
	if o.resolveErr != nil {
		if o.needSig {
			fail(RuleSignature, sigTitle, p.registryFail, finding.SeverityHigh, o.resolveErr)
		}
		if o.needScan {
			fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, o.resolveErr)
		}
		if o.rule != nil {
			fail(RuleSignature, verifyTitle, p.registryFail, finding.SeverityHigh, o.resolveErr)
		}
		return fs, warns
	}
	if o.rule != nil {
		more, w2 := verifyFindings(p, w, t, o, fail)
		fs = append(fs, more...)
		warns = append(warns, w2...)
	}
	if o.needSig && !o.pinned {
		// A verdict holds for a digest; a tag can move to another image
		// between this check and the kubelet's pull.
		fail(RuleSignature, sigTitle, p.registryFail, finding.SeverityHigh, fmt.Errorf(
			"image %q is not pinned by digest, so the image verified is not necessarily the one that runs; "+
				"the mutating webhook pins it to the digest it verifies (is mutate.admission.palisade.io installed?), or write %s@sha256:…", t.c.Image, t.c.Image))
	}
	if o.needSig {
		switch {
		case o.sigErr != nil:
			fail(RuleSignature, sigTitle, p.registryFail, finding.SeverityHigh, o.sigErr)
		case !o.sig.ok:
			fs = append(fs, newImageFinding(w, RuleSignature, finding.SeverityHigh, sigTitle, t,
				fmt.Sprintf("container %q image %q (%s) is not signed by a trusted key: %s", t.c.Name, t.c.Image, o.digest, o.sig.reason)))
		}
	}
	if o.needScan {
		res := o.scan
		if o.scanErr == nil && len(res.gaps) > 0 {
			// Not "no vulnerabilities": a scan that could not check
			// everything fails as a scan does, per its failurePolicy.
			fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, fmt.Errorf("image %q (%s) was not fully checked: %s",
				t.c.Image, o.digest, strings.Join(res.gaps, "; ")))
		}
		switch {
		case o.scanErr != nil:
			fail(RuleVulnerabilities, vulnTitle, p.scanFail, p.vulnSeverity, o.scanErr)
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
			fs = append(fs, newImageFinding(w, RuleVulnerabilities, res.severity, vulnTitle, t,
				fmt.Sprintf("container %q image %q (%s) has %svulnerabilities at or above %s: %s (e.g. %s)",
					t.c.Name, t.c.Image, o.digest, fixable, threshold, res.summary, strings.Join(ids, ", "))))
		}
	}
	return fs, warns
}

// verifyFindings reports an image's verifyImages outcome: which rule,
// which requirement and which evidence failed. fail reports what could not
// be checked, per the registry's failure policy.
func verifyFindings(p *Policy, w *workload.Workload, t imageTask, o *imageOutcome, fail func(id, title string, policy FailurePolicy, sev finding.Severity, err error)) (fs []finding.Finding, warns []string) {
	if !o.pinned {
		fail(RuleSignature, verifyTitle, p.registryFail, finding.SeverityHigh, fmt.Errorf(
			"image %q is not pinned by digest, so the image verified is not necessarily the one that runs; "+
				"set mutateDigest on verifyImages rule %q (with mutate.admission.palisade.io installed), or write %s@sha256:…", t.c.Image, o.rule.Name, t.c.Image))
	}
	if o.verifyErr != nil {
		fail(RuleSignature, verifyTitle, p.registryFail, finding.SeverityHigh, o.verifyErr)
		return fs, warns
	}
	for _, c := range o.verify.Failed() {
		id, title := RuleSignature, verifyTitle
		if strings.HasPrefix(c.Requirement, "attestation") {
			id, title = RuleAttestation, attTitle
		}
		fs = append(fs, newImageFinding(w, id, finding.SeverityHigh, title, t,
			fmt.Sprintf("container %q image %q (%s): verifyImages rule %q: %s: %s", t.c.Name, t.c.Image, o.digest, o.rule.Name, c.Requirement, c.Reason)))
	}
	return fs, warns
}

const (
	verifyTitle = "Image signature not verified"
	attTitle    = "Required image attestation missing or not satisfied"
	sigTitle    = "Image not signed by a trusted key"
	vulnTitle   = "Image has known vulnerabilities"
)

// forEachImage runs fn for 0..n-1 with at most the review's concurrency
// of goroutines, each holding one of the server's global slots while it
// runs, so neither one review nor many at once can open unbounded
// registry requests. A slot not obtained before the review's deadline
// leaves its index undone: fn's callers treat that as the context error
// their own registry calls would have met.
func (d *Decider) forEachImage(ctx context.Context, n int, fn func(i int)) {
	workers := min(n, d.limits.reviewConcurrency())
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if !d.limits.acquire(ctx) {
					fn(i) // runs with the expired context: fails fast
					continue
				}
				fn(i)
				d.limits.release()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
