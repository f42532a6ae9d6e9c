package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/encryption/etcdkv"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// runAgent is startAgent until the test ends or stop is called. With a
// cluster name it enrols with a new bootstrap token; without, it starts
// from the identity saved in stateDir (a restart; "" is a new directory).
func runAgent(t *testing.T, ctx context.Context, p *hubProc, name string, client kubernetes.Interface, ns, stateDir string, opts ...func(*agent.Config)) (a *agent.Agent, stop func()) {
	t.Helper()
	token := ""
	if name != "" {
		var err error
		if token, _, err = p.h.CreateBootstrapToken(ctx, name, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	a, cancel := startAgent(t, ctx, p, client, ns, token, stateDir, opts...)
	var once sync.Once
	stop = func() { once.Do(cancel) }
	t.Cleanup(stop)
	return a, stop
}

// hubInventory is the inventory the hub holds for a cluster.
func hubInventory(t *testing.T, ctx context.Context, p *hubProc, clusterID string) *fleetapi.Inventory {
	cs, err := p.st.ListClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == clusterID && c.Inventory != nil {
			return c.Inventory
		}
	}
	return &fleetapi.Inventory{}
}

// placementCheck places a workload in namespace ns and returns the named
// check of the cluster's verdict.
func placementCheck(t *testing.T, ctx context.Context, p *hubProc, clusterID, ns, check string) hub.PlacementCheck {
	t.Helper()
	ps, err := p.h.Place(ctx, hub.PlacementRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range ps {
		if pl.ClusterID != clusterID {
			continue
		}
		for _, c := range pl.Checks {
			if c.Name == check {
				return c
			}
		}
	}
	t.Fatalf("no %s check for cluster %s", check, clusterID)
	return hub.PlacementCheck{}
}

// TestAgentReportsPodSecurity: against a real API server, the agent
// reports each namespace's enforce level from its Namespace informer;
// labelling, relabelling and unlabelling a namespace reach the hub, and
// placement's pod-security check follows.
func TestAgentReportsPodSecurity(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	p := newHubProc(t)
	a, _ := runAgent(t, ctx, p, "psa-edge", client, ns, "")

	level := func() (string, bool) {
		l, ok := hubInventory(t, ctx, p, a.ClusterID()).PodSecurity[ns]
		return l, ok
	}
	waitFor(t, "the unlabelled namespace on the hub", time.Minute, func() bool { l, ok := level(); return ok && l == "" })
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckPodSecurity); c.Result != hub.CheckFail || !strings.Contains(c.Reason, "no pod-security.kubernetes.io/enforce label") {
		t.Errorf("unlabelled: %+v", c)
	}
	if inv := hubInventory(t, ctx, p, a.ClusterID()); len(inv.PodSecurity) != inv.Namespaces {
		t.Errorf("pod security of %d namespaces for %d namespaces: %v", len(inv.PodSecurity), inv.Namespaces, inv.PodSecurity)
	}

	setLabel := func(value *string) {
		t.Helper()
		v := "null"
		if value != nil {
			v = `"` + *value + `"`
		}
		patch := `{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":` + v + `}}}`
		if _, err := client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"restricted", "privileged", "baseline"} {
		setLabel(&want)
		waitFor(t, "enforce level "+want+" on the hub", 30*time.Second, func() bool { l, _ := level(); return l == want })
	}
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckPodSecurity); c.Result != hub.CheckPass || !strings.Contains(c.Reason, "enforces baseline") {
		t.Errorf("baseline: %+v", c)
	}
	setLabel(nil)
	waitFor(t, "the label's removal on the hub", 30*time.Second, func() bool { l, ok := level(); return ok && l == "" })
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckPodSecurity); c.Result != hub.CheckFail {
		t.Errorf("label removed: %+v", c)
	}

	// A namespace created with the label appears with its level.
	other := env.CreateNamespace(ctx, t, "", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}).Name
	waitFor(t, "a new labelled namespace on the hub", 30*time.Second, func() bool {
		return hubInventory(t, ctx, p, a.ClusterID()).PodSecurity[other] == "restricted"
	})
}

// TestAgentReportsEncryptionAtRest: a real API server and etcd, Secrets
// written before secretbox was enabled; the report of `palisade cluster
// encryption -o json` (the same library calls: etcd read, configuration,
// JSON writer) is given to the agent as a file. Plaintext left: the hub
// fails the cluster; after the Secrets are rewritten and the report is
// written again: verified from etcd, and placement passes. A report that
// only saw the configuration stays unknown, and so does a file that is not
// a report.
func TestAgentReportsEncryptionAtRest(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "enc-agent-", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}).Name
	mk := func(name string) {
		t.Helper()
		if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("before")
	env.RestartAPIServer(t, func(o *testenv.Options) {
		o.Encryption = &testenv.EncryptionConfig{Resources: []testenv.EncryptionResources{{Resources: []string{"secrets"},
			Providers: []testenv.EncryptionProvider{{Type: testenv.ProviderSecretbox, Keys: []testenv.EncryptionKey{testenv.NewEncryptionKey("sb1")}}, {Type: testenv.ProviderIdentity}}}}}
	})
	mk("after")

	kv, err := etcdkv.Dial(ctx, etcdkv.Options{Endpoints: []string{env.EtcdEndpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = kv.Close() }()
	cfg, err := encryption.LoadConfig(filepath.Join(env.Dir, "encryption.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(t.TempDir(), "encryption.json")
	// writeReport does what `palisade cluster encryption --etcd-endpoints …
	// --encryption-config … -o json --output-file reportPath` does.
	writeReport := func(a *encryption.Assessment) {
		t.Helper()
		var b strings.Builder
		if err := report.Write(&b, report.FormatJSON, a.Report(encryption.ReviewOptions{}), report.Options{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // a new modification time, even at one-second resolution
		if err := os.WriteFile(reportPath+".tmp", []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(reportPath+".tmp", reportPath); err != nil {
			t.Fatal(err)
		}
	}
	scan := func() *encryption.Assessment {
		t.Helper()
		inv, err := encryption.Scan(ctx, kv, encryption.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return &encryption.Assessment{Inventory: inv, Config: cfg, APIServerSeen: true, EncryptionConfigFlag: cfg.Path}
	}
	before := scan()
	writeReport(before)

	p := newHubProc(t)
	a, _ := runAgent(t, ctx, p, "enc-edge", client, ns, "", func(c *agent.Config) { c.EncryptionReport, c.FullEvery = reportPath, time.Second })
	status := func() *fleetapi.EncryptionAtRest {
		if e := hubInventory(t, ctx, p, a.ClusterID()).EncryptionAtRest; e != nil {
			return e
		}
		return &fleetapi.EncryptionAtRest{}
	}
	waitFor(t, "not-encrypted on the hub", time.Minute, func() bool { return status().Status == fleetapi.EncryptionNotEncrypted })
	if e := status(); e.Verification != fleetapi.VerificationEtcd || !strings.Contains(e.Detail, "stored as plaintext in etcd") || e.Source != "report "+reportPath || e.CheckedAt.IsZero() {
		t.Errorf("plaintext left: %+v", e)
	}
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckEncryption); c.Result != hub.CheckFail {
		t.Errorf("placement with plaintext Secrets: %+v", c)
	}

	// Rewrite the plaintext Secrets through the API server, as --rewrite
	// does, and verify again from etcd.
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	gvr, _ := encryption.GroupVersionResource("secrets")
	w := cfg.WriteStorage("secrets")
	if res := encryption.Rewrite(ctx, dyn, gvr, before.Inventory.Resources[0].Stale(&w)); len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	writeReport(scan())
	waitFor(t, "verified on the hub", time.Minute, func() bool { return status().Status == fleetapi.EncryptionVerified })
	if e := status(); e.Verification != fleetapi.VerificationEtcd || e.Provider != "secretbox" {
		t.Errorf("verified: %+v", e)
	}
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckEncryption); c.Result != hub.CheckPass || !strings.Contains(c.Reason, "read from etcd") {
		t.Errorf("placement once verified: %+v", c)
	}
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckPodSecurity); c.Result != hub.CheckPass {
		t.Errorf("pod security of %s: %+v", ns, c)
	}

	// The same cluster seen without etcd (configuration only): configured,
	// never verified, and placement says unknown.
	writeReport(&encryption.Assessment{Config: cfg, APIServerSeen: true, EncryptionConfigFlag: cfg.Path})
	waitFor(t, "configured on the hub", time.Minute, func() bool { return status().Status == fleetapi.EncryptionConfigured })
	if e := status(); e.Verification != fleetapi.VerificationConfig || e.Provider != "secretbox" {
		t.Errorf("configuration only: %+v", e)
	}
	if c := placementCheck(t, ctx, p, a.ClusterID(), ns, hub.CheckEncryption); c.Result != hub.CheckUnknown || !strings.Contains(c.Reason, "not read from etcd") {
		t.Errorf("placement from the configuration: %+v", c)
	}

	// A file that is not such a report is unknown, with the reason.
	if err := os.WriteFile(reportPath, []byte(`{"findings": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unknown on the hub", time.Minute, func() bool { return status().Status == fleetapi.EncryptionUnknown })
	if e := status(); !strings.Contains(e.Detail, "not a palisade cluster encryption report") {
		t.Errorf("not a report: %+v", e)
	}
}
