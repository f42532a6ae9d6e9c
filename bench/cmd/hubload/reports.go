package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// The shape of the real agent's reports, measured by
// bench/hub TestAgentReportShapes (the agent's code against a real
// kube-apiserver with 1,000 pods of four kinds, then rollouts of 1–20
// pods; figures in bench/hub/README.md):
//   - a full snapshot: 14.3 findings per pod, 450 bytes of JSON per
//     finding, gzip (BestSpeed, the outbox's) to 1/20 of it;
//   - a findings delta of a rollout of k pods: k objects deleted, k new
//     objects with all their findings (about 14 each), 1.5 KB + 330 B per
//     pod of gzip;
//   - an images report beside most deltas (the set of images changed),
//     4.5 KB of JSON.
//
// findingsPerKind are the findings of the four pod kinds (bare, with
// resources and a sidecar, hardened, privileged with host mounts); their
// mean is the measured 14.3.
var findingsPerKind = [4]int{15, 20, 5, 17}

// podState is one pod of a simulated cluster: its kind and the generation
// of its findings' messages (a change rewrites one finding).
type podState struct {
	id, kind, gen int
}

// clusterModel is what a simulated agent has reported: the hub must hold
// exactly these findings once every report is applied.
type clusterModel struct {
	pods    []podState
	nextPod int
	// snapshotZ caches the gzip member of the current snapshot's objects
	// (nil after a change), so an unchanged cluster's snapshots cost the
	// load client no encoding.
	snapshotZ []byte
	// snapshotJSON is the size of snapshotZ's JSON.
	snapshotJSON int
	// pool, when set, holds snapshots built in advance (newSnapshotPool);
	// any delta drops it, since the model then leaves the pool's states.
	pool *snapshotPool
}

func newClusterModel(pods int) *clusterModel {
	m := &clusterModel{}
	for range pods {
		m.addPod()
	}
	return m
}

func (m *clusterModel) addPod() podState {
	p := podState{id: m.nextPod, kind: m.nextPod % 4}
	m.nextPod++
	m.pods = append(m.pods, p)
	return p
}

func (m *clusterModel) findings() int {
	n := 0
	for _, p := range m.pods {
		n += podFindingCount(p)
	}
	return n
}

// podFindingCount: a pod whose generation is odd has one finding more (a
// change that adds a finding; the next change removes it).
func podFindingCount(p podState) int {
	return findingsPerKind[p.kind] + p.gen%2
}

func podRef(p podState) finding.ObjectRef {
	return finding.ObjectRef{Kind: "Pod", Namespace: fmt.Sprintf("team-%02d", p.id%10), Name: fmt.Sprintf("web-%06d-7f9c8d6b5-x%03d", p.id, p.id%997)}
}

var rulesByIndex = []struct{ id, title, field string }{
	{"pss/run-as-non-root", "Container may run as root", "securityContext.runAsNonRoot"},
	{"pss/seccomp", "Seccomp profile not set to RuntimeDefault or Localhost", "securityContext.seccompProfile.type"},
	{"pss/allow-privilege-escalation", "Privilege escalation allowed", "securityContext.allowPrivilegeEscalation"},
	{"pss/capabilities", "Capabilities not dropped", "securityContext.capabilities.drop"},
	{"hardening/read-only-root-fs", "Root filesystem is writable", "securityContext.readOnlyRootFilesystem"},
	{"resources/cpu-limit", "No CPU limit", "resources.limits.cpu"},
	{"resources/memory-limit", "No memory limit", "resources.limits.memory"},
	{"resources/cpu-request", "No CPU request", "resources.requests.cpu"},
	{"resources/memory-request", "No memory request", "resources.requests.memory"},
	{"images/latest-tag", "Image tag is mutable", "image"},
	{"images/digest", "Image not pinned by digest", "image"},
	{"probes/liveness", "No liveness probe", "livenessProbe"},
	{"probes/readiness", "No readiness probe", "readinessProbe"},
	{"hardening/automount-token", "Service account token mounted", "spec.automountServiceAccountToken"},
	{"pss/privileged", "Privileged container", "securityContext.privileged"},
	{"pss/host-network", "Host network", "spec.hostNetwork"},
	{"pss/host-path", "HostPath volume", "spec.volumes[0].hostPath"},
	{"hardening/uid", "Runs with a low UID", "securityContext.runAsUser"},
	{"network/no-policy", "No NetworkPolicy selects the pod", "metadata.labels"},
	{"hardening/pdb", "No PodDisruptionBudget", "metadata.labels"},
	{"hardening/anti-affinity", "Replicas may share a node", "spec.affinity"},
}

// podFindings are the pod's findings as the agent reports them.
func podFindings(p podState) fleetapi.ObjectFindings {
	ref := podRef(p)
	o := fleetapi.ObjectFindings{Object: ref, Findings: make([]finding.Finding, 0, podFindingCount(p))}
	for i := range podFindingCount(p) {
		r := rulesByIndex[(i+p.kind*3)%len(rulesByIndex)]
		container := "app"
		if i%3 == 2 {
			container = "sidecar"
		}
		msg := fmt.Sprintf("container %q of pod %s/%s: %s (%s is not set as the baseline requires)", container, ref.Namespace, ref.Name, r.title, r.field)
		if i == 0 {
			msg += fmt.Sprintf(" [revision %d]", p.gen) // a change rewrites this finding
		}
		o.Findings = append(o.Findings, finding.Finding{RuleID: fmt.Sprintf("%s-%d", r.id, i/len(rulesByIndex)), Severity: finding.Severity(1 + (i+p.kind)%4),
			Title: r.title, Message: msg, Object: ref, Field: "spec.containers[0]." + r.field, Container: container,
			Remediation: "Set " + r.field + " in the pod template as the restricted profile of the Pod Security Standards requires; see the rule's references for the exact values allowed."})
	}
	return o
}

// delta makes the model's next findings delta: a rollout of k pods (k
// deleted, k new ones with all their findings) and c pods whose findings
// change (one message rewritten, one finding added or removed). It
// returns the delta; the model already holds its result.
func (m *clusterModel) delta(rng *rand.Rand, k, c int) *fleetapi.FindingsDelta {
	d := &fleetapi.FindingsDelta{}
	for range min(k, len(m.pods)-1) {
		i := rng.IntN(len(m.pods))
		d.Deleted = append(d.Deleted, podRef(m.pods[i]))
		m.pods[i] = m.pods[len(m.pods)-1]
		m.pods = m.pods[:len(m.pods)-1]
	}
	for range k {
		d.Objects = append(d.Objects, podFindings(m.addPod()))
	}
	// Changed pods: distinct, and none of the k just added (the agent
	// names an object once per report).
	old := len(m.pods) - k
	for _, i := range rng.Perm(old)[:min(c, old)] {
		m.pods[i].gen++
		d.Objects = append(d.Objects, podFindings(m.pods[i]))
	}
	m.snapshotZ = nil
	m.pool = nil
	return d
}

// snapshotPool is a bounded set of one cluster's full snapshots encoded
// and compressed in advance. A real agent builds and compresses its
// snapshot on its own node, not on the hub's machine; building each one
// in the load client (json.Marshal and gzip of 3.2 MB for 500 pods, 32–40
// ms of the client's CPU) took as much of this 2-core machine as the hub
// itself. The variants differ as an agent's successive snapshots do:
// from one to the next, changed pods findings rewritten (one message,
// one finding added or removed). They are sent in the order 0, 1, …,
// n-1, n-2, …, 1, 0, 1, … so that every snapshot differs from the one
// before in exactly `changed` pods, and the model takes each variant's
// pods as it is sent, so the verification stays exact.
type snapshotPool struct {
	variants []snapshotVariant
	// next is the position in the back-and-forth order (0 … 2n-3).
	next int
}

// snapshotVariant is one pre-built snapshot: the pods it reports and the
// gzip member of its objects with the size of their JSON.
type snapshotVariant struct {
	pods []podState
	z    []byte
	json int
}

// newSnapshotPool builds n (≥ 1) variants of the model's current pods,
// each `changed` pods (drawn from rng) away from the one before, and
// attaches the pool to the model.
func (m *clusterModel) newSnapshotPool(rng *rand.Rand, n, changed int) {
	pool := &snapshotPool{variants: make([]snapshotVariant, 0, n)}
	pods := slices.Clone(m.pods)
	for v := range n {
		if v > 0 {
			pods = slices.Clone(pods)
			for _, i := range rng.Perm(len(pods))[:min(changed, len(pods))] {
				pods[i].gen++
			}
		}
		z, size := objectsZ(pods)
		pool.variants = append(pool.variants, snapshotVariant{pods: pods, z: z, json: size})
	}
	m.pool = pool
}

// take returns the next variant in the back-and-forth order.
func (p *snapshotPool) take() *snapshotVariant {
	n := len(p.variants)
	if n == 1 {
		return &p.variants[0]
	}
	i := p.next
	if i >= n {
		i = 2*(n-1) - i
	}
	p.next = (p.next + 1) % (2 * (n - 1))
	return &p.variants[i]
}

// bytes is the memory the pool's compressed snapshots hold.
func (p *snapshotPool) bytes() int {
	n := 0
	for _, v := range p.variants {
		n += len(v.z)
	}
	return n
}

// objectsZ encodes the pods' findings as a snapshot's objects array in
// one gzip member, and returns it with the size of its JSON.
func objectsZ(pods []podState) ([]byte, int) {
	objs := make([]fleetapi.ObjectFindings, 0, len(pods))
	for _, p := range pods {
		o := podFindings(p)
		// With its digest, as the agent sends a snapshot's objects.
		_ = fleetapi.SetDigest(&o)
		objs = append(objs, o)
	}
	js, _ := json.Marshal(objs)
	return gzipMember(js), len(js)
}

// gzipMember compresses p as one gzip member, as the agent's outbox
// stores each report.
func gzipMember(p []byte) []byte {
	var b bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&b)
	_, _ = zw.Write(p)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return b.Bytes()
}

// batchBody is a POST /api/v1/agent/reports/batch body exactly as the
// agent builds it: concatenated gzip members (the batch's head, each
// report, the tail).
func batchBody(reports [][]byte) []byte {
	size := len(batchHeadZ) + len(batchTailZ) + len(batchCommaZ)*len(reports)
	for _, r := range reports {
		size += len(r)
	}
	b := make([]byte, 0, size)
	b = append(b, batchHeadZ...)
	for i, r := range reports {
		if i > 0 {
			b = append(b, batchCommaZ...)
		}
		b = append(b, r...)
	}
	return append(b, batchTailZ...)
}

// The batch's constant members, compressed once (a compressor per member
// per request was a visible part of the client's CPU). Never written to.
var (
	batchHeadZ  = gzipMember([]byte(`{"dropped":0,"envelopes":[`))
	batchCommaZ = gzipMember([]byte(","))
	batchTailZ  = gzipMember([]byte("]}"))
	snapTailZ   = gzipMember([]byte("}}"))
)

// envelopeZ encodes an envelope as the gzip member(s) of one report and
// returns them with the size of its JSON.
func envelopeZ(env *fleetapi.Envelope) ([]byte, int) {
	js, _ := json.Marshal(env)
	return gzipMember(js), len(js)
}

// snapshotEnvelopeZ encodes a full snapshot of the model: the objects
// (cached while the model is unchanged) between a head and a tail member;
// it returns them with the size of the report's JSON.
func (m *clusterModel) snapshotEnvelopeZ(seq uint64, now time.Time) ([]byte, int) {
	if m.pool != nil {
		v := m.pool.take()
		m.pods = slices.Clone(v.pods)
		m.snapshotZ, m.snapshotJSON = v.z, v.json
	}
	if m.snapshotZ == nil {
		m.snapshotZ, m.snapshotJSON = objectsZ(m.pods)
	}
	head, _ := json.Marshal(struct {
		Seq  uint64    `json:"seq"`
		Time time.Time `json:"time"`
		Kind string    `json:"kind"`
	}{seq, now, fleetapi.KindFindings})
	var b bytes.Buffer
	head = append(head[:len(head)-1], []byte(`,"findings":{"full":true,"objects":`)...)
	b.Write(gzipMember(head))
	b.Write(m.snapshotZ)
	b.Write(snapTailZ)
	return b.Bytes(), len(head) + m.snapshotJSON + 2
}

// imagesEnvelope is the images report beside a delta (the measured 4.5 KB
// of JSON: 50 images).
func imagesEnvelope(seq uint64, now time.Time, gen int) *fleetapi.Envelope {
	set := &fleetapi.ImageSet{}
	for i := range 50 {
		set.Images = append(set.Images, fleetapi.ImageUse{Ref: fmt.Sprintf("registry.example.com/app-%d:1.%d", i, gen%3),
			Digest: fmt.Sprintf("sha256:%064x", i*7919+gen%3), Workloads: 20, Namespaces: []string{fmt.Sprintf("team-%02d", i%10)}})
	}
	return &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindImages, Images: set}
}
