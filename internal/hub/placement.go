package hub

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Security-aware placement: which clusters may run a workload, ranked,
// with the reason for every verdict. Each check passes, fails or is
// unknown — data the hub does not have is never taken as good news.

// PlacementRequest describes a workload to place.
type PlacementRequest struct {
	// Workload names it for people ("Deployment/web/sensor-reader").
	Workload  string           `json:"workload"`
	Namespace string           `json:"namespace"`
	Images    []PlacementImage `json:"images"`
	// NodeSelector and RequiredAffinity (ORed terms of ANDed requirements:
	// requiredDuringSchedulingIgnoredDuringExecution) pick the nodes.
	NodeSelector     map[string]string   `json:"nodeSelector,omitempty"`
	RequiredAffinity [][]NodeRequirement `json:"requiredAffinity,omitempty"`
	// Replicas of the pod; ignored for a DaemonSet (one pod per node).
	Replicas  int  `json:"replicas"`
	DaemonSet bool `json:"daemonSet,omitempty"`
	// Requests of one pod: CPU in millicores, memory in bytes.
	CPUMilli    int64 `json:"cpuMilli,omitempty"`
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// Strict turns every unknown into a failure.
	Strict bool `json:"strict,omitempty"`
}

// PlacementImage is an image and the platforms it is built for.
type PlacementImage struct {
	Ref string `json:"ref"`
	// Platforms are "os/arch" pairs; empty when not known.
	Platforms []string `json:"platforms,omitempty"`
	// Source says where Platforms come from: "registry" (the image index
	// or config), "hub records" (filled by Place from the architectures of
	// clusters already running it), or "" when unknown.
	Source string `json:"source,omitempty"`
}

// NodeRequirement is one node selector requirement.
type NodeRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist, Gt, Lt
	Values   []string `json:"values,omitempty"`
}

// Check verdicts.
const (
	CheckPass    = "pass"
	CheckFail    = "fail"
	CheckUnknown = "unknown"
)

// Check names, in the order they are reported.
const (
	CheckState        = "cluster-state"
	CheckNodeLabels   = "node-labels"
	CheckArchitecture = "architecture"
	CheckCapacity     = "capacity"
	CheckPodSecurity  = "pod-security"
	CheckEncryption   = "encryption-at-rest"
	CheckCritical     = "critical-findings"
)

// PlacementCheck is one verdict with its reason.
type PlacementCheck struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// Placement is one cluster's verdict. Fits is true when no check failed.
type Placement struct {
	Rank        int              `json:"rank"`
	ClusterID   string           `json:"clusterID"`
	ClusterName string           `json:"clusterName"`
	State       string           `json:"state"`
	Fits        bool             `json:"fits"`
	Failed      int              `json:"failed"`
	Unknown     int              `json:"unknown"`
	Checks      []PlacementCheck `json:"checks"`
	// Headroom is how many more pods than asked the candidate nodes hold
	// (capacity check); ranks clusters that fit equally.
	Headroom int `json:"headroom"`
}

// RuleNamespaceNoEnforce is the rule whose findings tell placement that a
// namespace has no enforced Pod Security level when the agent does not
// report namespace labels.
const RuleNamespaceNoEnforce = "cluster/namespace-no-pss-enforce"

// Place evaluates every cluster for the workload and ranks them: clusters
// that fit first; then online before stale before offline before never
// seen; then fewer failed and fewer unknown checks, more headroom, fewer
// open critical and high findings, and name.
func (h *Hub) Place(ctx context.Context, req PlacementRequest) ([]Placement, error) {
	if req.Namespace == "" {
		req.Namespace = "default"
	}
	if req.Replicas <= 0 {
		req.Replicas = 1
	}
	req.Images = append([]PlacementImage(nil), req.Images...) // filled below; the caller's stay as given
	clusters, err := h.st.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("placement: %w", err)
	}
	if err := h.platformsFromRecords(ctx, req.Images, clusters); err != nil {
		return nil, fmt.Errorf("placement: %w", err)
	}
	out := make([]Placement, 0, len(clusters))
	for _, c := range clusters {
		p, err := h.placeOn(ctx, req, c)
		if err != nil {
			return nil, fmt.Errorf("placement on %s: %w", c.Name, err)
		}
		out = append(out, p)
	}
	stateOrder := map[string]int{string(fleetapi.StateOnline): 0, string(fleetapi.StateStale): 1, string(fleetapi.StateOffline): 2, string(fleetapi.StateNeverSeen): 3}
	sev := map[string]store.Cluster{}
	for _, c := range clusters {
		sev[c.ID] = c
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Fits != b.Fits {
			return a.Fits
		}
		if stateOrder[a.State] != stateOrder[b.State] {
			return stateOrder[a.State] < stateOrder[b.State]
		}
		if a.Failed != b.Failed {
			return a.Failed < b.Failed
		}
		if a.Unknown != b.Unknown {
			return a.Unknown < b.Unknown
		}
		if a.Headroom != b.Headroom {
			return a.Headroom > b.Headroom
		}
		ca, cb := sev[a.ClusterID].Findings, sev[b.ClusterID].Findings
		if ca["CRITICAL"]+ca["HIGH"] != cb["CRITICAL"]+cb["HIGH"] {
			return ca["CRITICAL"]+ca["HIGH"] < cb["CRITICAL"]+cb["HIGH"]
		}
		return a.ClusterName < b.ClusterName
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}

// platformsFromRecords fills in, for images whose platforms are unknown,
// the architectures of clusters that already run them: a cluster whose
// nodes all have one architecture proves the image runs there.
func (h *Hub) platformsFromRecords(ctx context.Context, images []PlacementImage, clusters []store.Cluster) error {
	arch := map[string]string{} // cluster -> its single node architecture
	for _, c := range clusters {
		if c.Inventory == nil || len(c.Inventory.Nodes) == 0 {
			continue
		}
		a := c.Inventory.Nodes[0].OS + "/" + c.Inventory.Nodes[0].Architecture
		for _, n := range c.Inventory.Nodes[1:] {
			if n.OS+"/"+n.Architecture != a {
				a = ""
				break
			}
		}
		if a != "" {
			arch[c.ID] = a
		}
	}
	for i := range images {
		im := &images[i]
		if len(im.Platforms) > 0 {
			continue
		}
		q := store.ImageQuery{Ref: im.Ref, Limit: 1000}
		if _, d, ok := strings.Cut(im.Ref, "@"); ok {
			q = store.ImageQuery{Digest: d, Limit: 1000}
		}
		uses, _, err := h.st.QueryImages(ctx, q)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, u := range uses {
			if a := arch[u.ClusterID]; a != "" && !seen[a] {
				seen[a] = true
				im.Platforms = append(im.Platforms, a)
			}
		}
		if len(im.Platforms) > 0 {
			sort.Strings(im.Platforms)
			im.Source = "hub records"
		}
	}
	return nil
}

func (h *Hub) placeOn(ctx context.Context, req PlacementRequest, c store.Cluster) (Placement, error) {
	st := c.State(h.cfg.Now(), h.cfg.StaleAfter, h.cfg.OfflineAfter)
	p := Placement{ClusterID: c.ID, ClusterName: c.Name, State: string(st)}
	add := func(name, result, format string, args ...any) {
		if req.Strict && result == CheckUnknown {
			result, format = CheckFail, format+" (unknown is a failure with --strict)"
		}
		p.Checks = append(p.Checks, PlacementCheck{Name: name, Result: result, Reason: fmt.Sprintf(format, args...)})
		switch result {
		case CheckFail:
			p.Failed++
		case CheckUnknown:
			p.Unknown++
		}
	}
	switch st {
	case fleetapi.StateRevoked:
		add(CheckState, CheckFail, "revoked %s: its agents' certificates are refused", ago(h.cfg.Now(), c.RevokedAt))
	case fleetapi.StateOnline:
		add(CheckState, CheckPass, "online, last seen %s", ago(h.cfg.Now(), c.LastSeen))
	case fleetapi.StateStale:
		add(CheckState, CheckUnknown, "stale: last seen %s, the data below may be out of date", ago(h.cfg.Now(), c.LastSeen))
	case fleetapi.StateOffline:
		add(CheckState, CheckFail, "offline: last seen %s", ago(h.cfg.Now(), c.LastSeen))
	default:
		add(CheckState, CheckFail, "no agent has reported yet")
	}
	var nodes []fleetapi.Node
	if c.Inventory != nil {
		nodes = c.Inventory.Nodes
	}

	// Node labels: nodes the workload may be scheduled on at all.
	var labelled []fleetapi.Node
	for _, n := range nodes {
		if n.Unschedulable || (n.Conditions["Ready"] != "" && n.Conditions["Ready"] != "True") {
			continue
		}
		if matchesNode(n, req.NodeSelector, req.RequiredAffinity) {
			labelled = append(labelled, n)
		}
	}
	ready := 0
	for _, n := range nodes {
		if !n.Unschedulable && (n.Conditions["Ready"] == "" || n.Conditions["Ready"] == "True") {
			ready++
		}
	}
	switch {
	case len(nodes) == 0:
		add(CheckNodeLabels, CheckUnknown, "no node inventory reported")
	case ready == 0:
		add(CheckNodeLabels, CheckFail, "no ready, schedulable node (%d nodes)", len(nodes))
	case len(req.NodeSelector) == 0 && len(req.RequiredAffinity) == 0:
		add(CheckNodeLabels, CheckPass, "no node requirements; %d ready schedulable node(s)", ready)
	case len(labelled) == 0:
		add(CheckNodeLabels, CheckFail, "no ready node has %s", describeRequirements(req.NodeSelector, req.RequiredAffinity))
	default:
		add(CheckNodeLabels, CheckPass, "%d of %d ready node(s) have %s: %s", len(labelled), ready, describeRequirements(req.NodeSelector, req.RequiredAffinity), nodeNames(labelled))
	}

	// Architecture: the candidate nodes whose platform every image has.
	candidates := labelled
	if len(nodes) > 0 && len(labelled) > 0 {
		var fitting []fleetapi.Node
		var unknownImages []string
		for _, im := range req.Images {
			if len(im.Platforms) == 0 {
				unknownImages = append(unknownImages, im.Ref)
			}
		}
		for _, n := range labelled {
			ok := true
			for _, im := range req.Images {
				if len(im.Platforms) > 0 && !hasPlatform(im.Platforms, n.OS, n.Architecture) {
					ok = false
				}
			}
			if ok {
				fitting = append(fitting, n)
			}
		}
		archs := archList(labelled)
		switch {
		case len(fitting) == 0:
			add(CheckArchitecture, CheckFail, "candidate nodes are %s; %s", archs, describePlatforms(req.Images))
		case len(unknownImages) > 0 && len(unknownImages) == len(req.Images):
			add(CheckArchitecture, CheckUnknown, "nodes are %s; platforms of %s unknown (registry unreachable and no cluster with one architecture runs it)", archs, strings.Join(unknownImages, ", "))
		case len(unknownImages) > 0:
			add(CheckArchitecture, CheckUnknown, "%s on %s; platforms of %s unknown", describePlatforms(req.Images), archList(fitting), strings.Join(unknownImages, ", "))
		default:
			add(CheckArchitecture, CheckPass, "%s; %d node(s) match: %s", describePlatforms(req.Images), len(fitting), archList(fitting))
		}
		candidates = fitting
	} else {
		add(CheckArchitecture, CheckUnknown, "no candidate node to compare with %s", describePlatforms(req.Images))
	}

	// Capacity: allocatable minus the requests already on each node.
	p.Headroom = h.capacityCheck(req, candidates, add)

	// Pod Security: the namespace's enforce level.
	if err := h.podSecurityCheck(ctx, req, c, add); err != nil {
		return p, err
	}

	h.encryptionCheck(encryptionOf(c), add)

	// Critical findings.
	asOf := ""
	if st != fleetapi.StateOnline && !c.LastSeen.IsZero() {
		asOf = " (as of " + ago(h.cfg.Now(), c.LastSeen) + ")"
	}
	switch n := c.Findings["CRITICAL"]; {
	case c.LastSeen.IsZero():
		add(CheckCritical, CheckUnknown, "no findings reported yet")
	case n > 0:
		add(CheckCritical, CheckFail, "%d open critical finding(s)%s", n, asOf)
	default:
		add(CheckCritical, CheckPass, "no open critical findings%s", asOf)
	}
	p.Fits = p.Failed == 0
	return p, nil
}

// DefaultEncryptionMaxAge is Config.EncryptionMaxAge's default.
const DefaultEncryptionMaxAge = 7 * 24 * time.Hour

// encryptionCheck passes only what was verified from etcd, within
// Config.EncryptionMaxAge (a verification without a time is too old): a configured
// provider, or "verified" claimed from anything less than an etcd read, is
// unknown (Secrets written before encryption was enabled may be plaintext).
func (h *Hub) encryptionCheck(e *fleetapi.EncryptionAtRest, add func(string, string, string, ...any)) {
	if e == nil {
		add(CheckEncryption, CheckUnknown, "not reported by the agent")
		return
	}
	how := ""
	if e.Verification != "" {
		how = "verification: " + e.Verification
	}
	if !e.CheckedAt.IsZero() {
		how = strings.TrimPrefix(how+", checked "+ago(h.cfg.Now(), e.CheckedAt), ", ")
	}
	if how != "" {
		how = " (" + how + ")"
	}
	prov := ""
	if e.Provider != "" {
		prov = " with " + e.Provider
	}
	switch {
	case e.Status == fleetapi.EncryptionVerified && e.Verification == fleetapi.VerificationEtcd && h.cfg.Now().Sub(e.CheckedAt) > h.cfg.EncryptionMaxAge:
		add(CheckEncryption, CheckUnknown, "Secrets were verified encrypted at rest%s, read from etcd%s, but longer ago than %s: re-run `palisade cluster encryption`", prov, how, h.cfg.EncryptionMaxAge)
	case e.Status == fleetapi.EncryptionVerified && e.Verification == fleetapi.VerificationEtcd:
		add(CheckEncryption, CheckPass, "Secrets verified encrypted at rest%s, read from etcd%s", prov, how)
	case e.Status == fleetapi.EncryptionVerified:
		add(CheckEncryption, CheckUnknown, "reported verified without reading etcd%s; not taken as verified", how)
	case e.Status == fleetapi.EncryptionNotEncrypted:
		add(CheckEncryption, CheckFail, "Secrets not encrypted at rest%s%s", how, suffix(e.Detail))
	case e.Status == fleetapi.EncryptionConfigured:
		add(CheckEncryption, CheckUnknown, "encryption configured%s, but the stored Secrets were not read from etcd: those written before it was enabled may be plaintext%s", prov, how)
	default:
		add(CheckEncryption, CheckUnknown, "agent could not verify%s%s", how, suffix(e.Detail))
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func encryptionOf(c store.Cluster) *fleetapi.EncryptionAtRest {
	if c.Inventory == nil {
		return nil
	}
	return c.Inventory.EncryptionAtRest
}

func (h *Hub) podSecurityCheck(ctx context.Context, req PlacementRequest, c store.Cluster, add func(string, string, string, ...any)) error {
	if c.Inventory != nil && c.Inventory.PodSecurity != nil {
		level, ok := c.Inventory.PodSecurity[req.Namespace]
		switch {
		case !ok:
			add(CheckPodSecurity, CheckFail, "namespace %s does not exist; created without an enforce label it would admit any pod", req.Namespace)
		case level == "":
			add(CheckPodSecurity, CheckFail, "namespace %s has no pod-security.kubernetes.io/enforce label", req.Namespace)
		case level == "privileged":
			add(CheckPodSecurity, CheckFail, "namespace %s enforces privileged, which allows everything", req.Namespace)
		default:
			add(CheckPodSecurity, CheckPass, "namespace %s enforces %s", req.Namespace, level)
		}
		return nil
	}
	fs, err := h.st.ListFindings(ctx, store.FindingQuery{ClusterID: c.ID, RuleID: RuleNamespaceNoEnforce, Limit: 5000})
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Object.Kind == "Namespace" && f.Object.Name == req.Namespace {
			add(CheckPodSecurity, CheckFail, "namespace %s has no enforce label (finding %s)", req.Namespace, RuleNamespaceNoEnforce)
			return nil
		}
	}
	add(CheckPodSecurity, CheckUnknown, "namespace labels not reported by the agent, and no finding says namespace %s lacks an enforce label", req.Namespace)
	return nil
}

// capacityCheck counts how many pods of the request fit on the candidate
// nodes and returns the headroom (pods that fit beyond those asked).
func (h *Hub) capacityCheck(req PlacementRequest, nodes []fleetapi.Node, add func(string, string, string, ...any)) int {
	if len(nodes) == 0 {
		add(CheckCapacity, CheckUnknown, "no candidate node")
		return 0
	}
	want := req.Replicas
	if req.DaemonSet {
		want = len(nodes)
	}
	if req.CPUMilli == 0 && req.MemoryBytes == 0 {
		add(CheckCapacity, CheckPass, "the workload requests no CPU or memory; %d candidate node(s)", len(nodes))
		return len(nodes)
	}
	fit, fitNodes, unreported := 0, 0, 0
	for _, n := range nodes {
		cpu, okc := quantity(n.Allocatable, "cpu", true)
		mem, okm := quantity(n.Allocatable, "memory", false)
		if !okc || !okm {
			unreported++
			continue
		}
		if n.Requested == nil {
			unreported++
		}
		rc, _ := quantity(n.Requested, "cpu", true)
		rm, _ := quantity(n.Requested, "memory", false)
		free := int64(1 << 40)
		if req.CPUMilli > 0 {
			free = min(free, (cpu-rc)/req.CPUMilli)
		}
		if req.MemoryBytes > 0 {
			free = min(free, (mem-rm)/req.MemoryBytes)
		}
		if free > 0 {
			fitNodes++
			fit += int(min(free, 1<<20))
		}
	}
	perPod := describeRequests(req.CPUMilli, req.MemoryBytes)
	switch {
	case unreported == len(nodes) && fit == 0:
		add(CheckCapacity, CheckUnknown, "allocatable resources not reported")
		return 0
	case req.DaemonSet && fitNodes < len(nodes):
		add(CheckCapacity, CheckFail, "a daemon pod (%s) fits on %d of %d candidate node(s)", perPod, fitNodes, len(nodes))
	case !req.DaemonSet && fit < want:
		add(CheckCapacity, CheckFail, "%d of %d replica(s) of %s fit", fit, want, perPod)
	case unreported > 0:
		add(CheckCapacity, CheckUnknown, "%d replica(s) of %s fit on allocatable, but %d node(s) do not report the requests already running", fit, perPod, unreported)
	default:
		add(CheckCapacity, CheckPass, "room for %d replica(s) of %s on %d node(s), %d asked", fit, perPod, fitNodes, want)
	}
	return fit - want
}

// quantity parses a resource quantity: CPU in millicores, else the value.
func quantity(m map[string]string, name string, milli bool) (int64, bool) {
	s, ok := m[name]
	if !ok {
		return 0, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, false
	}
	if milli {
		return q.MilliValue(), true
	}
	return q.Value(), true
}

func describeRequests(cpu, mem int64) string {
	var parts []string
	if cpu > 0 {
		parts = append(parts, resource.NewMilliQuantity(cpu, resource.DecimalSI).String()+" CPU")
	}
	if mem > 0 {
		parts = append(parts, resource.NewQuantity(mem, resource.BinarySI).String()+" memory")
	}
	return strings.Join(parts, " + ")
}

// matchesNode applies a nodeSelector and required node affinity terms
// (any term; every requirement of a term) to a node's labels.
func matchesNode(n fleetapi.Node, sel map[string]string, terms [][]NodeRequirement) bool {
	for k, v := range sel {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false
		}
	}
	if len(terms) == 0 {
		return true
	}
	for _, term := range terms {
		ok := true
		for _, r := range term {
			if !r.matches(n.Labels) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (r NodeRequirement) matches(labels map[string]string) bool {
	v, has := labels[r.Key]
	in := func() bool {
		for _, x := range r.Values {
			if x == v {
				return true
			}
		}
		return false
	}
	switch r.Operator {
	case "In":
		return has && in()
	case "NotIn":
		return !has || !in()
	case "Exists":
		return has
	case "DoesNotExist":
		return !has
	case "Gt", "Lt":
		if !has || len(r.Values) != 1 {
			return false
		}
		var a, b int64
		if _, err := fmt.Sscan(v, &a); err != nil {
			return false
		}
		if _, err := fmt.Sscan(r.Values[0], &b); err != nil {
			return false
		}
		if r.Operator == "Gt" {
			return a > b
		}
		return a < b
	default:
		return false
	}
}

func describeRequirements(sel map[string]string, terms [][]NodeRequirement) string {
	var parts []string
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+sel[k])
	}
	var alts []string
	for _, t := range terms {
		var rs []string
		for _, r := range t {
			switch r.Operator {
			case "Exists", "DoesNotExist":
				rs = append(rs, r.Key+" "+r.Operator)
			default:
				rs = append(rs, r.Key+" "+r.Operator+" ("+strings.Join(r.Values, ",")+")")
			}
		}
		alts = append(alts, strings.Join(rs, " and "))
	}
	if len(alts) > 0 {
		parts = append(parts, "affinity "+strings.Join(alts, " or "))
	}
	return strings.Join(parts, ", ")
}

func nodeNames(ns []fleetapi.Node) string {
	var out []string
	for i, n := range ns {
		if i == 5 {
			out = append(out, fmt.Sprintf("… %d more", len(ns)-5))
			break
		}
		out = append(out, n.Name)
	}
	return strings.Join(out, ", ")
}

func archList(ns []fleetapi.Node) string {
	count := map[string]int{}
	for _, n := range ns {
		count[n.OS+"/"+n.Architecture]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s×%d", k, count[k]))
	}
	return strings.Join(out, ", ")
}

func describePlatforms(ims []PlacementImage) string {
	var out []string
	for _, im := range ims {
		if len(im.Platforms) == 0 {
			out = append(out, im.Ref+": platforms unknown")
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", im.Ref, strings.Join(im.Platforms, ", "), im.Source))
	}
	if len(out) == 0 {
		return "no images"
	}
	return strings.Join(out, "; ")
}

// hasPlatform reports whether "os/arch[/variant]" platforms include the
// node's OS and architecture.
func hasPlatform(platforms []string, os, arch string) bool {
	for _, p := range platforms {
		parts := strings.Split(p, "/")
		if len(parts) >= 2 && parts[0] == os && parts[1] == arch {
			return true
		}
	}
	return false
}

func (h *Hub) place(w http.ResponseWriter, r *http.Request, _ principal) {
	var req PlacementRequest
	if !readJSON(w, r, 1<<20, &req) {
		return
	}
	ps, err := h.Place(r.Context(), req)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workload": req.Workload, "placements": ps})
}
