// Package agent is the in-cluster edge agent: it watches the cluster with
// informers, re-evaluates changed objects with Palisade's rules, scans
// each image digest once, and reports to the hub through a durable,
// bounded on-disk outbox over mutual TLS. It keeps working while the hub
// is unreachable: reports queue on disk and policies, rules and the
// vulnerability database come from a verified on-disk cache.
package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/policy"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/runtimenode"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Checks evaluates checks beyond the rule set over the same inventory
// (NetworkPolicy coverage, RBAC analysis); those packages plug in here.
// Findings must name the object they are about.
type Checks interface {
	Name() string
	Evaluate(ctx context.Context, inv *workload.Inventory) ([]finding.Finding, error)
}

// ImageScanner scans one image by digest (the image scanner, SBOM and
// vulnerability matching plug in here). The agent calls Scan once per
// digest and DB stamp, with bounded concurrency.
type ImageScanner interface {
	// Scan returns vulnerability findings (Vulnerability set) for the image.
	Scan(ctx context.Context, ref, digest string) ([]finding.Finding, error)
	// DBStamp identifies the vulnerability data in use; when it changes,
	// every known digest is matched again. "" means there is no data yet:
	// nothing is matched until there is (a scanner that is an
	// ImageCataloguer catalogues the images meanwhile).
	DBStamp() string
}

// ImageCataloguer is implemented by an ImageScanner that can read an
// image without vulnerability data (RegistryScanner): it keeps the
// image's package list and executable paths, so that the runtime sensors
// get the image's file list before the agent has a database, and Scan
// matches the kept list once one arrives.
type ImageCataloguer interface {
	Catalogue(ctx context.Context, ref, digest string) error
}

// VulnDBLoader receives vulnerability-database bundles from the hub,
// verified; an ImageScanner may implement it. The bundle is the file at
// path in the agent's bundle cache, whose content has the hex SHA-256
// sha256 (checked just before): read it, streaming, and neither keep nor
// move it. Called whenever the set of bundles changes, with bundles
// already imported too.
type VulnDBLoader interface {
	LoadBundle(ctx context.Context, name, sha256, path string) error
}

// Config configures an agent.
type Config struct {
	HubURL string
	// Token is the bootstrap token, needed only for the first enrolment.
	Token string
	// TokenFile, when Token is empty, holds the bootstrap token (a mounted
	// Secret: the token never sits in the process environment). Read only
	// when the agent must enrol; a missing file is no token.
	TokenFile string
	// CAFingerprint pins the hub CA ("sha256:…").
	CAFingerprint string
	// StateDir holds identity, outbox and bundle cache.
	StateDir string
	// MaxBundleBytes bounds one bundle's content, downloaded to the
	// bundle cache (default DefaultMaxBundleBytes). Bundles other than
	// vulndb are also bounded by 4 MiB: they are read into memory.
	MaxBundleBytes int64
	// OutboxMaxBytes bounds the outbox (default 64 MiB).
	OutboxMaxBytes int64
	Client         kubernetes.Interface
	// Namespace limits namespaced watches to one namespace ("" = all).
	Namespace string
	// EncryptionReport is a `palisade cluster encryption -o json` report
	// file (e.g. a mounted ConfigMap); HostRoot a read-only host tree of a
	// control-plane node whose API server configuration is reviewed when
	// there is no report. They fill the inventory's encryption at rest
	// (see encryptionSource); neither: not reported.
	EncryptionReport, HostRoot string
	// AdmissionPolicyConfigMap, NAMESPACE/NAME[:KEY], is where the hub's
	// `admission` bundle is written for the cluster's admission webhook
	// (see AdmissionPolicyTarget); "" leaves the webhook's policy alone.
	AdmissionPolicyConfigMap string
	// AdmissionPolicyKeyFiles are PEM public keys of admission policy
	// publishers (`palisade db keygen`): when set, only an admission
	// bundle one of them signed (`hub bundle publish --sign-key`) is
	// written, whatever the hub signed.
	AdmissionPolicyKeyFiles []string
	// AdmissionEvents watches the admission webhook's break-glass
	// Kubernetes Events (reportingComponent palisade-admission) and sends
	// them to the hub as admission events; needs list and watch on events.
	AdmissionEvents bool
	// RuntimeEvents forwards the node runtime sensors' Kubernetes Events
	// (reportingComponent palisade-runtime) to the hub as runtime reports;
	// needs list and watch on events.
	RuntimeEvents bool
	// BreakGlassLedger, NAMESPACE/NAME, is the admission webhook's
	// break-glass ledger ConfigMap (ledger.go), read at start and every
	// 30 s so break-glass uses outlive their Events; needs get on it.
	// "": not read.
	BreakGlassLedger string
	// RuntimeLedger, NAMESPACE/NAME, is the node runtime sensors' ledger
	// ConfigMap (runtimeledger.go), read at start and every 30 s so
	// runtime findings outlive their Events; needs get on it. "": not
	// read.
	RuntimeLedger string
	// RuntimeImageFiles, NAMESPACE/PREFIX, is where the scanned (or, with
	// no vulnerability database, catalogued) images'
	// executable paths are published for the runtime sensors' drift check
	// (imagefiles.go): the ConfigMaps PREFIX0…PREFIX7, which must exist
	// (deploy/runtime creates palisade-system/palisade-image-files-N);
	// needs get and update on them. "": not published.
	RuntimeImageFiles string
	// Rules default to rules.Default(): the built-in security rules.
	Rules   *rule.Set
	Checks  []Checks
	Scanner ImageScanner
	// Images, when Scanner is nil, makes New build the registry scanner
	// (NewRegistryScanner) with these settings; nil scans no images.
	Images *RegistryScanConfig
	// ScanConcurrency bounds parallel image scans (default 2).
	ScanConcurrency int
	// Debounce waits for changes to settle; MaxDelay bounds the wait under
	// constant churn (defaults 2s and 10s).
	Debounce, MaxDelay time.Duration
	// FullEvery re-evaluates everything periodically (default 10m).
	FullEvery         time.Duration
	HeartbeatInterval time.Duration // default 30s
	BundleInterval    time.Duration // default 5m
	Version           string
	Logger            *slog.Logger
	// Now is the agent's clock (tests of clock skew); nil means time.Now.
	// It stamps reports and heartbeats, verifies the hub's certificate
	// and schedules certificate renewal.
	Now func() time.Time
}

// Agent is a running agent.
type Agent struct {
	cfg      Config
	admWatch admissionWatch
	rtWatch  runtimeWatch
	log      *slog.Logger
	pin      []byte
	id       *identity
	hub      *hubClient
	outbox   *Outbox
	watch    *watcher
	cache    bundleCache
	enc      *encryptionSource
	// admission is where `admission` bundles go (nil: nowhere);
	// admissionSynced the bundle last written there (bundleMu).
	admission       *AdmissionPolicyTarget
	admissionKeys   []ed25519.PublicKey
	admissionSynced string
	// bundleMu serialises bundle fetches, which write the cache.
	bundleMu sync.Mutex

	mu         sync.Mutex
	opts       evalOptions
	sent       map[string]uint64 // object key -> findings hash
	needFull   bool              // send the next findings as a full snapshot
	lastDrop   uint64
	imagesHash uint64
	invHash    uint64
	scanned    map[string]string // digest -> DB stamp scanned with ("": catalogued without one)
	inflight   map[string]bool
	digestRefs map[string]string
	// running are the digests of the images pods run now (reportImages).
	running    map[string]bool
	imageFiles *runtimenode.ImageFilesPublisher // nil: not published

	scans  sync.WaitGroup // image scans in flight
	online atomic.Bool
	// refusedTooLarge counts reports dropped because the hub answered 413
	// to them alone.
	refusedTooLarge atomic.Uint64
	evalCount       atomic.Int64
	scanSem         chan struct{}
	bundleHash      uint64
	ownScanner      *RegistryScanner // built by New from Config.Images; closed by Close
	// verify checks running images against the verification bundle.
	verify *imageVerifier
}

// New enrols (first start) or loads the identity and opens the outbox.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.Client == nil {
		return nil, errors.New("agent: no Kubernetes client")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("agent: no state directory")
	}
	pin, err := parseFingerprint(cfg.CAFingerprint)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var admissionTarget *AdmissionPolicyTarget
	if cfg.AdmissionPolicyConfigMap != "" {
		t, err := ParseAdmissionPolicyTarget(cfg.AdmissionPolicyConfigMap)
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		admissionTarget = &t
	}
	admissionKeys, err := readPublicKeys(cfg.AdmissionPolicyKeyFiles, "admission policy key")
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg, err = withDefaults(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: state dir: %w", err)
	}
	var own *RegistryScanner
	if cfg.Scanner == nil && cfg.Images != nil {
		images := *cfg.Images
		if images.UserAgent == "" {
			images.UserAgent = "palisade-agent/" + cfg.Version
		}
		if own, err = NewRegistryScanner(images, cfg.StateDir, cfg.Logger); err != nil {
			return nil, fmt.Errorf("agent: image scanner: %w", err)
		}
		cfg.Scanner = own
	}
	a := assemble(cfg, own)
	a.pin = pin
	if cfg.RuntimeImageFiles != "" {
		if a.imageFiles, err = runtimenode.NewImageFilesPublisher(cfg.Client, cfg.RuntimeImageFiles, cfg.Logger); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	a.admission, a.admissionKeys = admissionTarget, admissionKeys
	id, ok, err := loadIdentity(cfg.StateDir, pin, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.id = id
	if a.hub, err = newHubClient(cfg.HubURL, pin, id, cfg.Now); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if !ok {
		if err := a.enroll(ctx); err != nil {
			return nil, err
		}
	} else if id.meta.Hub != cfg.HubURL {
		a.log.Warn("hub URL differs from the one enrolled with; using the saved identity", slog.String("enrolled", id.meta.Hub))
	}
	if a.outbox, err = OpenOutbox(filepath.Join(cfg.StateDir, "outbox.db"), cfg.OutboxMaxBytes); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.lastDrop = a.outbox.Stats().Dropped
	a.applyCachedBundles(ctx)
	if a.watch, err = newWatcher(cfg.Client, cfg.Namespace, 0, 0); err != nil {
		_ = a.outbox.Close()
		return nil, err
	}
	return a, nil
}

// withDefaults fills the Config fields New defaults.
func withDefaults(cfg Config) (Config, error) {
	setDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDefault(&cfg.Debounce, 2*time.Second)
	setDefault(&cfg.MaxDelay, 10*time.Second)
	setDefault(&cfg.FullEvery, 10*time.Minute)
	setDefault(&cfg.HeartbeatInterval, 30*time.Second)
	setDefault(&cfg.BundleInterval, 5*time.Minute)
	if cfg.OutboxMaxBytes <= 0 {
		cfg.OutboxMaxBytes = 64 << 20
	}
	if cfg.ScanConcurrency <= 0 {
		cfg.ScanConcurrency = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Rules == nil {
		var err error
		if cfg.Rules, err = rules.Default(); err != nil {
			return cfg, fmt.Errorf("agent: rules: %w", err)
		}
	}
	return cfg, nil
}

// assemble wires an Agent's parts from a defaulted Config (and the
// registry scanner New made, if any), with no I/O: no identity, hub client
// or outbox yet. New and the tests share it, so every Agent has the same
// parts (its image verifier among them).
func assemble(cfg Config, own *RegistryScanner) *Agent {
	a := &Agent{cfg: cfg, log: cfg.Logger, sent: map[string]uint64{}, needFull: true,
		scanned: map[string]string{}, inflight: map[string]bool{}, digestRefs: map[string]string{},
		scanSem: make(chan struct{}, cfg.ScanConcurrency), cache: bundleCache{dir: filepath.Join(cfg.StateDir, "bundles"), max: cfg.MaxBundleBytes, hashed: newHashedFiles()}}
	a.opts = evalOptions{Rules: cfg.Rules}
	a.admWatch.a = a
	a.rtWatch.a = a
	a.enc = newEncryptionSource(cfg.EncryptionReport, cfg.HostRoot)
	a.ownScanner = own
	a.verify = newImageVerifier(cfg.Logger, verifyRegistry(own, cfg.Version), cfg.Now)
	return a
}

func (a *Agent) enroll(ctx context.Context) error {
	if a.cfg.Token == "" && a.cfg.TokenFile != "" {
		tok, err := readTokenFile(a.cfg.TokenFile)
		if err != nil {
			return err
		}
		a.cfg.Token = tok
	}
	if a.cfg.Token == "" {
		return errors.New("agent: not enrolled yet and no bootstrap token given (--token, --token-file)")
	}
	keyPEM, csrPEM, err := newKeyAndCSR()
	if err != nil {
		return fmt.Errorf("agent: key: %w", err)
	}
	var resp fleetapi.EnrollResponse
	if err := a.hub.do(ctx, http.MethodPost, fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: a.cfg.Token, CSR: string(csrPEM), AgentVersion: a.cfg.Version}, &resp); err != nil {
		return fmt.Errorf("agent: enrol: %w", err)
	}
	if err := a.id.save(&resp, keyPEM, a.pin, a.cfg.HubURL); err != nil {
		return fmt.Errorf("agent: enrol: %w", err)
	}
	a.hub.closeIdle() // reconnect with the client certificate
	a.log.Info("enrolled", slog.String("cluster", resp.ClusterName), slog.String("agent", resp.AgentID), slog.Time("certificateExpires", resp.NotAfter))
	return nil
}

// ClusterID is the enrolled cluster.
func (a *Agent) ClusterID() string { return a.id.meta.ClusterID }

// AgentID is the enrolled agent.
func (a *Agent) AgentID() string { return a.id.meta.AgentID }

// Close releases the outbox and the image scanner New built.
func (a *Agent) Close() error {
	if a.ownScanner != nil {
		a.ownScanner.Close()
	}
	return a.outbox.Close()
}

// OutboxStats describe the outbox.
func (a *Agent) OutboxStats() OutboxStats { return a.outbox.Stats() }

// Online reports whether the last call to the hub succeeded.
func (a *Agent) Online() bool { return a.online.Load() }

// Evaluations counts completed evaluation rounds.
func (a *Agent) Evaluations() int64 { return a.evalCount.Load() }

// Run watches, evaluates and reports until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.watch.start(ctx); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	var wg sync.WaitGroup
	loops := []func(context.Context){a.sendLoop, a.heartbeatLoop, a.rotateLoop, a.bundleLoop}
	if a.cfg.AdmissionEvents {
		loops = append(loops, a.watchAdmissionEvents)
	}
	if a.cfg.RuntimeEvents {
		loops = append(loops, a.watchRuntimeEvents)
	}
	if a.cfg.BreakGlassLedger != "" {
		loops = append(loops, a.readLedger)
	}
	if a.cfg.RuntimeLedger != "" {
		loops = append(loops, a.readRuntimeLedger)
	}
	for _, loop := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	a.evaluateLoop(ctx)
	wg.Wait()
	// Image scans end with ctx too; wait for them, so that none is cut
	// off by the process's exit (a walk cut off looks, to the next
	// start, like one that killed the agent).
	a.scans.Wait()
	return nil
}

// evaluateLoop debounces changes and evaluates.
func (a *Agent) evaluateLoop(ctx context.Context) {
	full := time.NewTicker(a.cfg.FullEvery)
	defer full.Stop()
	a.evaluateOnce(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-full.C:
			a.watch.forceFull()
			continue
		case <-a.watch.kick:
		}
		// Debounce: wait until changes stop for Debounce, at most MaxDelay.
		deadline := time.NewTimer(a.cfg.MaxDelay)
	settle:
		for {
			quiet := time.NewTimer(a.cfg.Debounce)
			select {
			case <-ctx.Done():
				quiet.Stop()
				deadline.Stop()
				return
			case <-a.watch.kick:
				quiet.Stop()
			case <-quiet.C:
				break settle
			case <-deadline.C:
				quiet.Stop()
				break settle
			}
		}
		deadline.Stop()
		a.evaluateOnce(ctx)
	}
}

func (a *Agent) evaluateOnce(ctx context.Context) {
	dirty, full, imagesDirty, nodesDirty := a.watch.pending()
	a.mu.Lock()
	if st := a.outbox.Stats(); st.Dropped != a.lastDrop {
		// Reports were dropped: the hub missed deltas; converge with a snapshot.
		a.log.Warn("outbox dropped reports; sending a full snapshot", slog.Uint64("dropped", st.Dropped))
		a.lastDrop = st.Dropped
		a.needFull = true
	}
	if a.needFull {
		full = true
	}
	opts := a.opts
	a.mu.Unlock()

	if full || len(dirty) > 0 {
		if err := a.reportFindings(ctx, full, dirty, opts); err != nil {
			a.log.Error("evaluation failed", slog.Any("error", err))
			a.watch.requeue(dirty, full)
			return
		}
	}
	if full || nodesDirty {
		if err := a.reportInventory(ctx); err != nil {
			a.log.Error("inventory report failed", slog.Any("error", err))
		}
	}
	if full || imagesDirty {
		if err := a.reportImages(ctx); err != nil {
			a.log.Error("image report failed", slog.Any("error", err))
		}
	}
	a.evalCount.Add(1)
}

func (a *Agent) enqueue(env *fleetapi.Envelope) error {
	env.Cluster = a.id.meta.ClusterID
	env.Time = a.cfg.Now().UTC()
	_, err := a.outbox.Append(env)
	return err
}

func (a *Agent) reportFindings(ctx context.Context, full bool, dirty map[string]bool, opts evalOptions) error {
	ev, err := a.watch.evaluate(ctx, full, dirty, opts, a.cfg.Checks)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	snapshot := a.needFull
	delta := &fleetapi.FindingsDelta{Full: snapshot}
	next := map[string]uint64{}
	keys := make([]string, 0, len(ev.byObject))
	for k := range ev.byObject {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		of := ev.byObject[k]
		h := findingsHash(of.Findings)
		next[k] = h
		old, known := a.sent[k]
		switch {
		case snapshot:
			if len(of.Findings) > 0 {
				// The digest lets the hub skip the objects it
				// already has (fleetapi.SetDigest).
				if err := fleetapi.SetDigest(&of); err != nil {
					return err
				}
				delta.Objects = append(delta.Objects, of)
			}
		case !known && len(of.Findings) == 0:
		case !known || old != h:
			delta.Objects = append(delta.Objects, of)
		}
	}
	var gone []string
	if full {
		for k := range a.sent {
			if _, ok := ev.byObject[k]; !ok {
				gone = append(gone, k)
			}
		}
	}
	for _, d := range ev.deleted {
		k := objectKey(d.Kind, d.Namespace, d.Name)
		if _, ok := a.sent[k]; ok || snapshot {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	if !snapshot {
		for _, k := range gone {
			kind, ns, name := splitKey(k)
			delta.Deleted = append(delta.Deleted, finding.ObjectRef{Kind: kind, Namespace: ns, Name: name})
		}
	}
	if snapshot || len(delta.Objects) > 0 || len(delta.Deleted) > 0 {
		if err := a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindFindings, Findings: delta}); err != nil {
			return err
		}
	}
	// Only after the delta is durably queued does the agent consider the
	// hub up to date with it.
	if full {
		a.sent = next
	} else {
		for k, h := range next {
			a.sent[k] = h
		}
		for _, k := range gone {
			delete(a.sent, k)
		}
	}
	a.needFull = false
	return nil
}

func hashJSON(v any) uint64 {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	var h uint64
	for _, c := range s[:8] {
		h = h<<8 | uint64(c)
	}
	return h
}

func (a *Agent) reportInventory(ctx context.Context) error {
	inv := &fleetapi.Inventory{Namespaces: a.watch.namespaceCount(), Pods: len(a.watch.pods()), AgentVersion: a.cfg.Version,
		PodSecurity: a.watch.podSecurity(), EncryptionAtRest: a.enc.current(ctx)}
	if v, err := a.cfg.Client.Discovery().ServerVersion(); err == nil {
		inv.KubernetesVersion = v.GitVersion
	} else {
		a.log.Warn("cannot read the server version", slog.Any("error", err))
	}
	nodes := a.watch.nodes()
	inv.Distribution = detectDistribution(inv.KubernetesVersion, nodes)
	for _, n := range nodes {
		inv.Nodes = append(inv.Nodes, nodeInfo(n))
	}
	a.mu.Lock()
	for _, r := range a.opts.Rules.Rules() {
		inv.Rules = append(inv.Rules, r.ID)
	}
	a.mu.Unlock()
	h := hashJSON(inv)
	a.mu.Lock()
	defer a.mu.Unlock()
	if h == a.invHash {
		return nil
	}
	if err := a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindInventory, Inventory: inv}); err != nil {
		return err
	}
	a.invHash = h
	return nil
}

func (a *Agent) reportImages(ctx context.Context) error {
	uses := imageUses(a.watch.pods())
	h := hashJSON(uses)
	a.mu.Lock()
	changed := h != a.imagesHash
	a.running = map[string]bool{}
	for _, u := range uses {
		if u.Digest != "" {
			a.digestRefs[u.Digest] = u.Ref
			a.running[u.Digest] = true
		}
	}
	a.mu.Unlock()
	if changed {
		if err := a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: uses}}); err != nil {
			return err
		}
		a.mu.Lock()
		a.imagesHash = h
		a.mu.Unlock()
	}
	a.scanImages(ctx, uses)
	a.verify.verify(ctx, uses, &a.scans, func(v *fleetapi.ImageVerification) error {
		return a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindImageVerification, ImageVerification: v})
	})
	return nil
}

// scanImages starts a scan for each digest not yet scanned with the
// scanner's current DB stamp; at most ScanConcurrency run at once.
// Without a database, a scanner that can catalogue images does so once per
// digest (the runtime sensors' file lists), and the hub is told the image
// was not matched.
func (a *Agent) scanImages(ctx context.Context, uses []fleetapi.ImageUse) {
	if a.cfg.Scanner == nil {
		return
	}
	stamp := a.cfg.Scanner.DBStamp()
	cataloguer, _ := a.cfg.Scanner.(ImageCataloguer)
	if stamp == "" && cataloguer == nil {
		return // no vulnerability data yet; a new bundle triggers a full round
	}
	for _, u := range uses {
		if u.Digest == "" {
			continue
		}
		a.mu.Lock()
		done, ok := a.scanned[u.Digest]
		skip := ok && done == stamp || a.inflight[u.Digest]
		if !skip {
			a.inflight[u.Digest] = true
		}
		a.mu.Unlock()
		if skip {
			continue
		}
		a.scans.Add(1)
		go func(ref, digest string) {
			defer a.scans.Done()
			select {
			case a.scanSem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-a.scanSem }()
			res := &fleetapi.ImageScan{Digest: digest, Ref: ref, DBStamp: stamp, Vulnerabilities: []finding.Finding{}}
			var err error
			if stamp == "" {
				err = cataloguer.Catalogue(ctx, ref, digest)
				res.Error = fleetapi.ImageScanNotMatched
			} else {
				var vulns []finding.Finding
				if vulns, err = a.cfg.Scanner.Scan(ctx, ref, digest); err == nil && vulns != nil {
					res.Vulnerabilities = vulns
				}
			}
			res.ScannedAt = a.cfg.Now().UTC()
			if err != nil {
				res.Error = err.Error()
			} else {
				a.publishImageFiles(ctx, digest)
			}
			qerr := a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindImageScan, ImageScan: res})
			a.mu.Lock()
			delete(a.inflight, digest)
			if err == nil && qerr == nil {
				a.scanned[digest] = stamp
			}
			a.mu.Unlock()
			if err != nil || qerr != nil {
				a.log.Warn("image scan failed", slog.String("image", ref), slog.Any("error", errors.Join(err, qerr)))
			}
		}(u.Ref, u.Digest)
	}
}

// RecordAdmission queues admission decisions for the hub (the admission
// webhook's event sink calls this).
func (a *Agent) RecordAdmission(events ...fleetapi.AdmissionEvent) error {
	if len(events) == 0 {
		return nil
	}
	return a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindAdmission, Admission: events})
}

// readTokenFile reads a bootstrap token file: "" when it does not exist,
// an error when it cannot be read or is not a token-sized line.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("agent: --token-file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return "", fmt.Errorf("agent: --token-file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(data))
	if len(data) > 4096 || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("agent: --token-file %s: not a bootstrap token (one line, pbt_…)", path)
	}
	return tok, nil
}

// ---- sending

func (a *Agent) setOnline(ok bool, err error) {
	if a.online.Swap(ok) != ok {
		if ok {
			a.log.Info("hub reachable")
		} else {
			a.log.Warn("hub unreachable; reports are kept in the outbox", slog.Any("error", err))
		}
	}
}

// Batching of reports: up to sendBatchReports envelopes and about
// sendBatchBytes of JSON per request, applied by the hub in one
// transaction. After an outage the backlog drains in far fewer round
// trips and transactions; in steady state a batch holds what queued while
// the previous request was in flight.
const (
	sendBatchReports = 32
	sendBatchBytes   = 4 << 20
)

// sendLoop sends the outbox oldest first, in batches, and removes reports
// only once the hub acknowledged them (applied or duplicate).
func (a *Agent) sendLoop(ctx context.Context) {
	backoff := time.Second
	batching := true // until a hub without the batch endpoint answers 404
	// split is the reports per batch after a 413, halved at each until the
	// report too large alone is found and dropped (then 0: full batches);
	// the culprit is thus refused about log2(sendBatchReports) times.
	split := 0
	resynced := false // since the last report accepted
	for {
		n := 1
		if batching {
			n = sendBatchReports
		}
		if split > 0 {
			n = split
		}
		batch, err := a.outbox.OldestRaw(n, sendBatchBytes)
		if err != nil {
			a.log.Error("outbox read failed", slog.Any("error", err))
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.outbox.Notify():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		if batching {
			err = a.sendBatch(ctx, batch)
		} else {
			err = a.sendOne(ctx, batch[0])
		}
		var he *HTTPError
		switch {
		case err == nil:
			a.setOnline(true, nil)
			backoff, resynced = time.Second, false
			if len(batch) < n {
				split = 0 // the queue drained: nothing left to split
			}
			if err := a.outbox.Ack(batch[len(batch)-1].Seq); err != nil {
				a.log.Error("outbox ack failed", slog.Any("error", err))
			}
			continue
		case batching && errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusMethodNotAllowed):
			a.log.Info("hub has no batch endpoint; sending reports one by one")
			batching = false
			continue
		case errors.As(err, &he) && he.Status == http.StatusRequestEntityTooLarge && len(batch) > 1:
			// Over the hub's bytes or items per request: send fewer at once,
			// down to one, to find the report that is too large alone.
			split = len(batch) / 2
			a.log.Warn("hub refused a batch as too large; sending fewer reports at once", slog.Int("reports", len(batch)), slog.String("reason", he.Msg))
			continue
		case errors.As(err, &he) && he.Status == http.StatusRequestEntityTooLarge:
			// Resending it unchanged would be refused forever and block the
			// queue behind it.
			n := a.refusedTooLarge.Add(1)
			a.log.Error("hub refused a report as too large; dropping it", slog.Uint64("seq", batch[0].Seq),
				slog.String("reason", he.Msg), slog.Uint64("refusedTooLarge", n))
			_ = a.outbox.Ack(batch[0].Seq)
			split = 0
			// The hub missed what the report said (a findings delta over
			// the cluster's quota, say): the next findings go as a full
			// snapshot, which replaces the hub's rows and converges as
			// soon as the cluster's findings fit.
			a.mu.Lock()
			a.needFull = true
			a.mu.Unlock()
			if a.watch != nil {
				a.watch.forceFull()
			}
			continue
		case errors.As(err, &he) && he.Status == http.StatusServiceUnavailable:
			// The hub cannot store reports now (its database unavailable
			// or full): keep them queued and send them again after its
			// Retry-After (bounded), counting the hub as down meanwhile.
			wait := min(max(he.RetryAfter, backoff), 5*time.Minute)
			a.log.Warn("hub cannot store reports now; keeping them queued", slog.Int("reports", len(batch)),
				slog.String("reason", he.Msg), slog.Duration("retryAfter", wait))
			a.setOnline(false, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		case errors.As(err, &he) && he.Status == http.StatusTooManyRequests:
			// The hub is up and asks this cluster to slow down: wait as it
			// says (bounded), without counting it an outage.
			wait := min(max(he.RetryAfter, time.Second), 5*time.Minute)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		case errors.As(err, &he) && he.Status == http.StatusConflict && !resynced:
			// Refused as too far beyond what the hub applied: renumber the
			// queue after the hub's last applied report and resend (once;
			// a second refusal in a row waits as for an outage).
			resynced = true
			if a.resync(ctx, he.Msg) {
				continue
			}
		case errors.As(err, &he) && he.Status == http.StatusBadRequest:
			// A report the hub can never accept must not block the queue.
			a.log.Error("hub rejected a report; dropping it", slog.Uint64("seq", batch[0].Seq), slog.String("reason", he.Msg))
			_ = a.outbox.Ack(batch[0].Seq)
			continue
		case ctx.Err() != nil:
			return
		}
		a.setOnline(false, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// resync asks the hub for the last report it applied from this agent and
// renumbers the outbox after it; false when the hub does not say (a hub
// before resync) or the outbox cannot be renumbered, and the reports wait.
func (a *Agent) resync(ctx context.Context, reason string) bool {
	st := a.outbox.Stats()
	var res fleetapi.HeartbeatResult
	err := a.hub.do(ctx, http.MethodPost, fleetapi.PathHeartbeat, fleetapi.Heartbeat{Time: time.Now().UTC(), AgentVersion: a.cfg.Version,
		Pending: uint64(st.Pending), Dropped: st.Dropped, LastSeq: st.LastSeq, Resync: true}, &res)
	if err != nil || res.LastApplied == nil {
		a.log.Error("hub refused reports as out of sequence and did not say which it applied; keeping them queued",
			slog.String("reason", reason), slog.Any("error", err))
		return false
	}
	n, err := a.outbox.Resequence(*res.LastApplied)
	if err != nil {
		a.log.Error("outbox resequence failed", slog.Any("error", err))
		return false
	}
	a.log.Warn("hub refused reports as out of sequence; renumbered the queue after its last applied report",
		slog.String("reason", reason), slog.Uint64("hubLastApplied", *res.LastApplied), slog.Int("renumbered", n))
	return true
}

// sendBatch posts reports as one fleetapi.ReportBatch. The body is gzip:
// a concatenation of gzip members (which decompresses to the concatenated
// JSON), so each stored report's compressed member is passed through as
// is, without decompressing or decoding it.
func (a *Agent) sendBatch(ctx context.Context, batch []RawReport) error {
	size := 64
	for _, r := range batch {
		size += len(r.Stored)
	}
	var body bytes.Buffer
	body.Grow(size)
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed) // a valid level never fails
	member := func(p []byte) error {
		zw.Reset(&body)
		if _, err := zw.Write(p); err != nil {
			return err
		}
		return zw.Close()
	}
	if err := member(fmt.Appendf(nil, `{"dropped":%d,"envelopes":[`, a.outbox.Stats().Dropped)); err != nil {
		return err
	}
	for i, r := range batch {
		if i > 0 {
			if err := member([]byte(",")); err != nil {
				return err
			}
		}
		if m, _, ok := splitReport(r.Stored); ok {
			body.Write(m)
		} else if err := member(r.Stored); err != nil { // plain JSON from an older agent
			return err
		}
	}
	if err := member([]byte("]}")); err != nil {
		return err
	}
	var res fleetapi.BatchResult
	if err := a.hub.do(ctx, http.MethodPost, fleetapi.PathReportBatch, gzipJSON(body.Bytes()), &res); err != nil {
		return err
	}
	if len(res.Results) != len(batch) {
		return fmt.Errorf("hub answered %d results for %d reports", len(res.Results), len(batch))
	}
	for _, r := range res.Results {
		if r.Error != "" {
			// A report the hub can never accept must not block the queue.
			a.log.Error("hub rejected a report; dropping it", slog.Uint64("seq", r.Seq), slog.String("reason", r.Error))
		}
	}
	return nil
}

// sendOne posts one report (hubs without the batch endpoint).
func (a *Agent) sendOne(ctx context.Context, r RawReport) error {
	js, err := r.JSON()
	var env fleetapi.Envelope
	if err == nil {
		err = json.Unmarshal(js, &env)
	}
	if err != nil {
		return &HTTPError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("undecodable queued report: %v", err)}
	}
	env.Dropped = a.outbox.Stats().Dropped
	var res fleetapi.ReportResult
	return a.hub.do(ctx, http.MethodPost, fleetapi.PathReports, &env, &res)
}

func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		st := a.outbox.Stats()
		err := a.hub.do(ctx, http.MethodPost, fleetapi.PathHeartbeat, fleetapi.Heartbeat{Time: a.cfg.Now().UTC(), AgentVersion: a.cfg.Version,
			Pending: uint64(st.Pending), Dropped: st.Dropped, LastSeq: st.LastSeq}, nil)
		if ctx.Err() != nil {
			return
		}
		a.setOnline(err == nil, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rotateLoop renews the client certificate at two thirds of its life,
// measured on the agent's clock from its receipt (identity.lifetime).
func (a *Agent) rotateLoop(ctx context.Context) {
	for {
		nb, na := a.id.lifetime()
		life := na.Sub(nb)
		renewAt := nb.Add(life * 2 / 3)
		wait := renewAt.Sub(a.cfg.Now())
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(wait, time.Minute)):
				continue
			}
		}
		if a.cfg.Now().After(na) {
			a.log.Error("client certificate expired before it could be renewed; enrol again with a new bootstrap token")
		}
		if err := a.renew(ctx); err != nil {
			a.log.Warn("certificate renewal failed; retrying", slog.Any("error", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(max(life/20, time.Second), time.Minute)):
			}
		}
	}
}

func (a *Agent) renew(ctx context.Context) error {
	keyPEM, csrPEM, err := newKeyAndCSR()
	if err != nil {
		return err
	}
	var resp fleetapi.EnrollResponse
	if err := a.hub.do(ctx, http.MethodPost, fleetapi.PathRenew, fleetapi.RenewRequest{CSR: string(csrPEM)}, &resp); err != nil {
		return err
	}
	if err := a.id.save(&resp, keyPEM, a.pin, a.id.meta.Hub); err != nil {
		return err
	}
	a.hub.closeIdle() // new connections present the new certificate
	a.log.Info("client certificate renewed", slog.Time("expires", resp.NotAfter))
	return nil
}

// ---- bundles

func (a *Agent) bundleLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.BundleInterval)
	defer t.Stop()
	for {
		if err := a.fetchBundles(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("bundle update failed; using the cached bundles", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FetchBundles downloads, verifies, caches and applies bundles now.
func (a *Agent) FetchBundles(ctx context.Context) error { return a.fetchBundles(ctx) }

func (a *Agent) fetchBundles(ctx context.Context) error {
	var list fleetapi.BundleList
	err := a.hub.do(ctx, http.MethodGet, fleetapi.PathBundles, nil, &list)
	if err == nil {
		err = a.receiveBundles(ctx, list.Bundles)
	}
	// Whether or not the hub answered: the webhook's policy follows the
	// cached admission bundle (a failed write is retried, a local edit
	// undone).
	a.bundleMu.Lock()
	bundles, _ := a.cache.load(a.id.bundleKey, a.id.meta.ClusterID)
	a.syncAdmission(ctx, bundles)
	a.bundleMu.Unlock()
	return err
}

// applyCachedBundles builds scan options from the verified cached
// bundles: policies (settings, exceptions, custom rules), allow-lists
// (registry globs, one a line), rules (policy files carrying rules), and
// hands vulnerability-DB bundles to the scanner.
func (a *Agent) applyCachedBundles(ctx context.Context) {
	bundles, errs := a.cache.load(a.id.bundleKey, a.id.meta.ClusterID)
	for _, err := range errs {
		a.log.Error("ignoring cached bundle", slog.Any("error", err))
	}
	h := hashJSON(bundles)
	a.mu.Lock()
	same := h == a.bundleHash
	a.mu.Unlock()
	if same {
		return
	}
	opts := evalOptions{Rules: a.cfg.Rules}
	var custom []*rule.Rule
	var verification *cachedBundle
	var verificationContent []byte
	for i := range bundles {
		b := &bundles[i]
		var content []byte
		if b.Kind != fleetapi.BundleVulnDB {
			var err error
			if content, err = a.cache.content(b); err != nil {
				a.log.Error("ignoring cached bundle", slog.String("kind", b.Kind), slog.String("name", b.Name), slog.Any("error", err))
				continue
			}
		}
		switch b.Kind {
		case fleetapi.BundlePolicy, fleetapi.BundleRules:
			p, err := a.loadPolicy(ctx, &b.Bundle, content)
			if err != nil {
				a.log.Error("bundle policy", slog.String("name", b.Name), slog.Any("error", err))
				continue
			}
			if b.Kind == fleetapi.BundlePolicy {
				if p.Spec.PodSecurity.DefaultLevel != "" {
					opts.Settings.DefaultPSSLevel = p.Spec.PodSecurity.DefaultLevel
				}
				opts.Settings.AllowedRegistries = append(opts.Settings.AllowedRegistries, p.Spec.AllowedRegistries...)
				opts.Exceptions = append(opts.Exceptions, p.Exceptions()...)
			}
			rs, err := p.CustomRules()
			if err != nil {
				a.log.Error("bundle rules", slog.String("name", b.Name), slog.Any("error", err))
				continue
			}
			custom = append(custom, rs...)
		case fleetapi.BundleVerification:
			verification, verificationContent = b, content // the last (a cluster's own) wins
		case fleetapi.BundleAllowList:
			for _, line := range strings.Split(string(content), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					opts.Settings.AllowedRegistries = append(opts.Settings.AllowedRegistries, line)
				}
			}
		case fleetapi.BundleVulnDB:
			l, ok := a.cfg.Scanner.(VulnDBLoader)
			if !ok {
				continue
			}
			if b.path == "" {
				// Cached by an older agent, content inline: the database
				// it imported stays in use until the hub sends it again.
				a.log.Warn("vulnerability DB bundle cached in an older format; waiting for the hub to send it again", slog.String("name", b.Name))
				continue
			}
			if err := l.LoadBundle(ctx, b.Name, b.SHA256, b.path); err != nil {
				a.log.Error("vulnerability DB bundle", slog.String("name", b.Name), slog.Any("error", err))
			}
		}
	}
	a.verify.apply(ctx, verification, verificationContent)
	if len(custom) > 0 {
		set, err := a.cfg.Rules.With(custom...)
		if err != nil {
			a.log.Error("custom rules", slog.Any("error", err))
		} else {
			opts.Rules = set
		}
	}
	a.mu.Lock()
	a.opts = opts
	a.bundleHash = h
	a.invHash = 0 // the rule list may have changed
	a.mu.Unlock()
	a.log.Info("bundles applied", slog.Int("bundles", len(bundles)))
	if a.watch != nil {
		a.watch.forceFull() // policies changed: re-evaluate and re-match
	}
}

// syncAdmission makes the webhook's ConfigMap hold the `admission` bundle
// in force (a cluster's own over the fleet's: it comes last). It runs at
// every bundle check (fetchBundles, with bundleMu held), hub reachable or
// not: a failed write is tried again, and a ConfigMap changed in the
// cluster is put back, with a warning (the hub's policy is the one
// enforced; publish a new version to change it).
func (a *Agent) syncAdmission(ctx context.Context, bundles []cachedBundle) {
	var in *cachedBundle
	for i := range bundles {
		if bundles[i].Kind == fleetapi.BundleAdmission {
			in = &bundles[i]
		}
	}
	if in == nil {
		return
	}
	if in.Cluster == "" && a.id != nil {
		// A cluster's own admission bundle in the cache that did not
		// verify must not silently give way to the fleet's (which may be
		// laxer): keep the webhook's current policy and say why.
		own, _ := filepath.Glob(filepath.Join(a.cache.dir, fleetapi.BundleAdmission+"--*@"+a.id.meta.ClusterID+".json"))
		if len(own) > 0 {
			a.log.Error("this cluster's admission bundle is cached but does not verify; the webhook's policy is left as it is until the hub sends it again", slog.String("file", filepath.Base(own[0])))
			return
		}
	}
	id := fmt.Sprintf("%s/%s v%d sha256:%s", in.Kind, in.Name, in.Version, in.SHA256)
	if in.Cluster != "" {
		id = "cluster " + id
	}
	if a.admission == nil {
		if a.admissionSynced != id {
			a.log.Warn("admission bundle received but --admission-policy-configmap is not set: the webhook's policy is not updated", slog.String("bundle", id))
			a.admissionSynced = id
		}
		return
	}
	content, err := a.cache.content(in)
	if err != nil {
		a.log.Error("ignoring cached bundle", slog.String("bundle", id), slog.Any("error", err))
		return
	}
	policy, err := fleetapi.OpenAdmissionPolicy(content, a.admissionKeys)
	if err != nil {
		a.log.Error("admission bundle refused; the webhook's policy is left as it is", slog.String("bundle", id), slog.Any("error", err))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second) // bundleMu is held
	defer cancel()
	changed, err := syncAdmissionPolicy(sctx, a.cfg.Client, *a.admission, policy, id)
	switch {
	case err != nil:
		a.log.Error("admission policy not written; retried at the next bundle check", slog.String("bundle", id), slog.Any("error", err))
		return
	case changed && a.admissionSynced == id:
		a.log.Warn("admission policy ConfigMap was changed in the cluster; the hub's policy is restored", slog.String("bundle", id), slog.String("configmap", a.admission.String()))
	case changed:
		a.log.Info("admission policy written", slog.String("bundle", id), slog.String("configmap", a.admission.String()))
	}
	a.admissionSynced = id
}

func (a *Agent) loadPolicy(ctx context.Context, b *fleetapi.Bundle, content []byte) (*policy.Policy, error) {
	dir := filepath.Join(a.cfg.StateDir, "policies")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, bundleFileName(b, ".yaml"))
	if err := writeFileAtomic(path, content); err != nil {
		return nil, err
	}
	return policy.Load(ctx, path)
}
