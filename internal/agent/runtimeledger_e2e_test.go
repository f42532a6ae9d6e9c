package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtimenode"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// chanSource is a node sensor's event source fed by the test; each
// event is acknowledged once processed.
type chanSource struct{ events, processed chan rt.Event }

func (s *chanSource) Run(ctx context.Context, fn func(rt.Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.events:
			fn(e)
			s.processed <- e
		}
	}
}
func (s *chanSource) State() rt.State { return rt.State{Mode: "ok"} }
func (s *chanSource) Close() error    { return nil }

// ledgerNode is a node runtime sensor run by the test with a clock it
// controls, its findings fed as recorded events.
type ledgerNode struct {
	src    *chanSource
	cancel context.CancelFunc
	done   chan error
}

// containerCgroup makes a containerd container cgroup directory under
// root (a plain directory: the resolver only reads paths) and returns
// its id as the kernel would report it.
func containerCgroup(t *testing.T, root, podUID, cid string) uint64 {
	t.Helper()
	dir := filepath.Join(root, "kubepods.slice", "kubepods-pod"+strings.ReplaceAll(podUID, "-", "_")+".slice", "cri-containerd-"+cid+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestRuntimeLedgerOutlivesEvents: on the real API server, runtime
// findings whose Events are gone (the API server keeps Events about an
// hour; an agent down longer missed them) reach the hub from the runtime
// ledger, each once. Two node sensors write the one ledger ConfigMap with
// a ServiceAccount that may only get and patch that ConfigMap by name (no
// create, no other ConfigMap; deploy/runtime creates it): each node
// keeps only its newest distinct findings (a repeat of an identical one
// replaces it), the nodes never remove each other's entries, and a
// restarted node keeps its earlier entries. The agent started afterwards
// forwards the ledger; a finding also seen as an Event is stored once,
// and a restarted agent sends nothing again.
func TestRuntimeLedgerOutlivesEvents(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "rtl-", nil).Name
	const keep = 4

	// The sensors' least privilege: exactly deploy/runtime's rules (its
	// ClusterRole, and the ledger's Role: get and patch by name only).
	raw, err := os.ReadFile("../../deploy/runtime/runtime.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var clusterRules, ledgerRules []rbacv1.PolicyRule
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Rules    []rbacv1.PolicyRule
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		switch {
		case obj.Kind == "ClusterRole" && obj.Metadata.Name == "palisade-runtime":
			clusterRules = obj.Rules
		case obj.Kind == "Role" && obj.Metadata.Name == "palisade-runtime-ledger":
			ledgerRules = obj.Rules
		}
	}
	if len(clusterRules) == 0 || len(ledgerRules) != 1 || len(ledgerRules[0].ResourceNames) != 1 || ledgerRules[0].ResourceNames[0] != fleetapi.RuntimeLedgerName {
		t.Fatalf("deploy/runtime: ClusterRole rules %+v, ledger Role rules %+v", clusterRules, ledgerRules)
	}
	roles := admin.RbacV1()
	if _, err := roles.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "sensor"}, Rules: ledgerRules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := roles.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "sensor"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "sensor"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sensor", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := roles.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-sensor"}, Rules: clusterRules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := roles.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-sensor"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ns + "-sensor"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sensor", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = roles.ClusterRoleBindings().Delete(context.Background(), ns+"-sensor", metav1.DeleteOptions{})
		_ = roles.ClusterRoles().Delete(context.Background(), ns+"-sensor", metav1.DeleteOptions{})
	})
	sensorClient := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, "sensor"))
	if _, err := sensorClient.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err == nil {
		t.Fatal("the sensor's ServiceAccount may create ConfigMaps")
	}
	// As deploy/runtime does: server-side apply would need create too.
	if _, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fleetapi.RuntimeLedgerName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	cgroups := map[string]uint64{
		"n1": containerCgroup(t, root, "0a1b2c3d-0000-4111-8222-000000000001", strings.Repeat("1", 64)),
		"n2": containerCgroup(t, root, "0a1b2c3d-0000-4111-8222-000000000002", strings.Repeat("2", 64)),
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	startNode := func(node string, client kubernetes.Interface) *ledgerNode {
		ln := &ledgerNode{src: &chanSource{events: make(chan rt.Event), processed: make(chan rt.Event)}, done: make(chan error, 1)}
		n, err := runtimenode.New(runtimenode.Config{Client: client, Node: node, Namespace: ns, CgroupRoot: root,
			Ledger: fleetapi.RuntimeLedgerName, LedgerFindings: keep, LedgerEvery: 50 * time.Millisecond, StateEvery: time.Hour,
			Logger: quietLog(), Now: now, Open: func(context.Context, rt.Options) (runtimenode.Source, error) { return ln.src, nil }})
		if err != nil {
			t.Fatal(err)
		}
		nctx, ncancel := context.WithCancel(ctx)
		ln.cancel = ncancel
		wg.Add(1)
		go func() { defer wg.Done(); ln.done <- n.Run(nctx) }()
		return ln
	}
	stopNode := func(ln *ledgerNode) {
		ln.cancel()
		if err := <-ln.done; err != nil {
			t.Error(err)
		}
	}
	// kubelet connects to distinct addresses are distinct findings.
	connect := func(ln *ledgerNode, node string, i int) {
		ln.src.events <- rt.Event{Kind: rt.KindConnect, TGID: 100, UID: 1000, CgroupID: cgroups[node],
			Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(len(node)), byte(i)}), 10250)}
		<-ln.src.processed
		advance(time.Second)
	}
	type entry struct {
		node, id, msg string
		at            time.Time
	}
	ledger := func() map[string]entry { // by key
		cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, fleetapi.RuntimeLedgerName, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		out := map[string]entry{}
		for k, v := range cm.Data {
			var le fleetapi.LedgerEntry
			var rep fleetapi.RuntimeReport
			if json.Unmarshal([]byte(v), &le) != nil || json.Unmarshal(le.Event, &rep) != nil || len(rep.Findings) != 1 {
				t.Fatalf("ledger entry %s: %s", k, v)
			}
			out[k] = entry{rep.Node, rep.Findings[0].ID, rep.Findings[0].F.Message, rep.Findings[0].Time}
		}
		return out
	}
	perNode := func(l map[string]entry) map[string]int {
		c := map[string]int{}
		for _, e := range l {
			c[e.node]++
		}
		return c
	}

	// Node n1 finds 6 distinct things, then the first again after the
	// 10 minutes within which an identical finding is not repeated; n2
	// finds 2. The ledger keeps n1's newest 4 distinct, n2's 2.
	n1, n2 := startNode("n1", sensorClient), startNode("n2", sensorClient)
	for i := range 6 {
		connect(n1, "n1", i)
	}
	connect(n2, "n2", 0)
	connect(n2, "n2", 1)
	advance(11 * time.Minute)
	again := now()
	connect(n1, "n1", 5) // the newest again: replaces its own entry
	// The ledger is written every 50 ms while the findings arrive, so
	// the right counts can show before the last write (n1's first four):
	// wait for exactly the final entries, n1's repeat included.
	has := func(l map[string]entry, node string, i int, since time.Time) bool {
		for _, e := range l {
			if e.node == node && strings.Contains(e.msg, fmt.Sprintf("10.0.2.%d:10250", i)) && !e.at.Before(since) {
				return true
			}
		}
		return false
	}
	waitFor(t, "the ledger with both nodes' findings", time.Minute, func() bool {
		l := ledger()
		c := perNode(l)
		return c["n1"] == keep && c["n2"] == 2 && has(l, "n1", 2, time.Time{}) && has(l, "n1", 3, time.Time{}) && has(l, "n1", 4, time.Time{}) &&
			has(l, "n1", 5, again) && has(l, "n2", 0, time.Time{}) && has(l, "n2", 1, time.Time{})
	})
	time.Sleep(200 * time.Millisecond) // a few more applies: nothing changes
	before := ledger()
	if c := perNode(before); c["n1"] != keep || c["n2"] != 2 {
		t.Fatalf("ledger per node %v, want n1 %d and n2 2", c, keep)
	}
	msgs := map[string]int{}
	for _, e := range before {
		msgs[e.msg]++
	}
	for m, c := range msgs {
		if c != 1 {
			t.Errorf("ledger holds %q %d times", m, c)
		}
	}
	cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, fleetapi.RuntimeLedgerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]bool{}
	for _, mf := range cm.ManagedFields {
		managers[mf.Manager] = true
	}
	if !managers[fleetapi.RuntimeLedgerFieldManagerPrefix+"n1"] || !managers[fleetapi.RuntimeLedgerFieldManagerPrefix+"n2"] {
		t.Errorf("ledger field managers %v", managers)
	}

	// n1 restarts: its entries stay, and a new finding evicts only its
	// own oldest.
	stopNode(n1)
	n1 = startNode("n1", sensorClient)
	connect(n1, "n1", 9)
	waitFor(t, "n1's new finding in the ledger", time.Minute, func() bool {
		for _, e := range ledger() {
			if strings.Contains(e.msg, "10.0.2.9:10250") {
				return true
			}
		}
		return false
	})
	stopNode(n1)
	stopNode(n2)
	final := ledger()
	if c := perNode(final); c["n1"] != keep || c["n2"] != 2 {
		t.Fatalf("ledger per node after n1's restart %v, want n1 %d and n2 2", c, keep)
	}
	var oldest string
	for k, e := range before {
		if e.node == "n1" && (oldest == "" || k < oldest) {
			oldest = k
		}
	}
	for k, e := range before {
		if _, ok := final[k]; ok != (k != oldest) {
			t.Errorf("entry %s (%s) in the ledger after the restart: %v", k, e.msg, ok)
		}
	}

	// The agent was down for more than an hour: the Events are gone,
	// except the one written after the restart, which stays to show that
	// a finding arriving both ways is stored once.
	evs, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if !strings.Contains(ev.Message, "10.0.2.9:10250") {
			if err := admin.CoreV1().Events(ns).Delete(ctx, ev.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]string{}
	for _, e := range final {
		want[e.id] = e.msg
	}

	p := newHubProc(t)
	state := t.TempDir()
	withLedger := func(c *agent.Config) { c.RuntimeEvents, c.RuntimeLedger = true, ns+"/"+fleetapi.RuntimeLedgerName }
	a, stop := runAgent(t, ctx, p, "rtl-edge", admin, ns, state, withLedger)
	hubFindings := func() []store.RuntimeFinding {
		fs, err := p.st.ListRuntimeFindings(ctx, store.RuntimeQuery{ClusterID: a.ClusterID()})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	waitFor(t, "the ledger's findings on the hub", time.Minute, func() bool { return len(hubFindings()) >= len(want) })
	waitFor(t, "the agent's outbox drained", time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	got := map[string]int{}
	for _, f := range hubFindings() {
		got[f.ID]++
		if msg, ok := want[f.ID]; !ok || f.F.Message != msg || f.F.RuleID != rt.RuleKubelet {
			t.Errorf("hub finding %s %s %q, not one of the ledger's", f.ID, f.F.RuleID, f.F.Message)
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("finding %s (%s) stored %d times, want once", id, want[id], got[id])
		}
	}
	sent := a.OutboxStats().LastSeq
	stop()
	var remembered []string
	if data, err := os.ReadFile(filepath.Join(state, "runtime-ledger.json")); err != nil || json.Unmarshal(data, &remembered) != nil || len(remembered) != len(final) {
		t.Errorf("agent's runtime ledger state: %q (%v), want the %d keys", data, err, len(final))
	}
	sort.Strings(remembered)

	// Restarted on its state: nothing of the ledger is recorded again.
	var recorded atomic.Int64
	a2, _ := runAgent(t, ctx, p, "", admin, ns, state, withLedger, func(c *agent.Config) {
		c.Logger = slog.New(countingHandler{msg: "runtime events recorded from the ledger", n: &recorded})
	})
	waitFor(t, "the restarted agent reporting", time.Minute, func() bool { return a2.OutboxStats().LastSeq > sent && a2.OutboxStats().Pending == 0 })
	time.Sleep(time.Second) // the first ledger read happens at start
	if n := recorded.Load(); n != 0 || a2.RuntimeEventsDropped() != 0 {
		t.Errorf("restarted agent recorded ledger entries %d times (dropped %d), want none", n, a2.RuntimeEventsDropped())
	}
	if fs := hubFindings(); len(fs) != len(want) {
		t.Errorf("%d findings on the hub after a restart, want %d", len(fs), len(want))
	}
}
