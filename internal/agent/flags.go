package agent

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtimenode"
)

// Flags are the command-line settings of `palisade agent run` and of the
// slim palisade-agent binary, bound once here so both accept the same
// flags.
type Flags struct {
	Config
	// OutboxMiB is Config.OutboxMaxBytes in MiB.
	OutboxMiB int64
	// MaxBundleMiB is Config.MaxBundleBytes in MiB.
	MaxBundleMiB int64
	// ScanImages turns the registry scanner on (Config.Images).
	ScanImages bool
	// Images are the registry scanner's settings; SBOMCacheMiB is its
	// CacheMaxBytes in MiB.
	Images       RegistryScanConfig
	SBOMCacheMiB int64
	// LayerCacheMiB is Images' LayerCacheMaxBytes in MiB.
	LayerCacheMiB int64
	// ScanMaxFileMiB and ScanMaxMemoryMiB are Images' walk limits in MiB.
	ScanMaxFileMiB, ScanMaxMemoryMiB int64
	// Runtime runs this process as a node's runtime sensor (the runtime
	// DaemonSet) instead of the cluster agent; RuntimeNode configures it.
	Runtime     bool
	RuntimeNode runtimenode.Config
}

// Bind registers the flags on fs.
func (f *Flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.HubURL, "hub", "", "hub URL (https://host:port)")
	fs.StringVar(&f.Token, "token", "", "single-use bootstrap token (or PALISADE_AGENT_TOKEN)")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the bootstrap token (a mounted Secret), read when the agent must enrol; a missing file is no token")
	fs.StringVar(&f.CAFingerprint, "hub-ca-fingerprint", "", "sha256:… fingerprint of the hub CA ('palisade hub token create' prints it)")
	fs.StringVar(&f.StateDir, "state-dir", "/var/lib/palisade-agent", "identity, outbox and bundle cache")
	fs.Int64Var(&f.OutboxMiB, "outbox-max-mib", 64, "outbox size limit; the oldest reports are dropped (and counted) beyond it")
	fs.Int64Var(&f.MaxBundleMiB, "max-bundle-mib", DefaultMaxBundleBytes>>20, "largest bundle content downloaded from the hub (streamed to --state-dir/bundles, never held in memory); policy, rules and allowlist bundles are also limited to 4 MiB")
	fs.StringVar(&f.EncryptionReport, "encryption-report", "", "JSON report of 'palisade cluster encryption -o json' (e.g. a mounted ConfigMap) to report encryption at rest from")
	fs.StringArrayVar(&f.AdmissionPolicyKeyFiles, "admission-policy-public-key", nil, "PEM public key of an admission policy publisher ('palisade db keygen'; repeatable): only admission bundles it signed ('hub bundle publish --sign-key') are written")
	fs.StringVar(&f.AdmissionPolicyConfigMap, "admission-policy-configmap", "", "NAMESPACE/NAME[:KEY] of the admission webhook's policy ConfigMap (deploy/admission: palisade-system/palisade-admission-policy): the hub's admission bundle is written there (needs get and update on that ConfigMap; deploy/agent's Role)")
	fs.StringVar(&f.BreakGlassLedger, "break-glass-ledger", "", "NAMESPACE/NAME of the admission webhook's break-glass ledger ConfigMap (deploy/admission: palisade-system/"+fleetapi.BreakGlassLedgerName+"), read at start and every 30s so break-glass uses reach the hub even after their Events expired (needs get on that ConfigMap; deploy/agent's Role)")
	fs.BoolVar(&f.AdmissionEvents, "admission-events", true, "forward the admission webhook's break-glass Kubernetes Events (reportingComponent palisade-admission) to the hub as admission events (needs list and watch on events; deploy/agent's ClusterRole)")
	fs.StringVar(&f.HostRoot, "host-root", "", "read-only host root of a control-plane node (hostPath); without --encryption-report, its API server's encryption configuration is reported (never as verified)")
	fs.DurationVar(&f.Debounce, "debounce", 2*time.Second, "wait for changes to settle before evaluating")
	fs.DurationVar(&f.HeartbeatInterval, "heartbeat", 30*time.Second, "heartbeat interval")
	fs.IntVar(&f.ScanConcurrency, "scan-concurrency", 2, "image scans run in parallel")
	fs.BoolVar(&f.ScanImages, "scan-images", true, "scan each image digest in use for vulnerabilities once there is a vulnerability database (a vulndb bundle from the hub, or --vuln-db-dir); until then each is catalogued (its file list published for the runtime sensors) and reported as not matched")
	fs.StringVar(&f.Images.VulnDBDir, "vuln-db-dir", "", "directory holding vulndb/osv.db, as palisade's cache directory does (default: --state-dir); hub vulndb bundles are imported into it")
	fs.StringArrayVar(&f.Images.VulnDBKeyFiles, "vuln-db-public-key", nil, "PEM public key trusted to sign vulndb bundles from the hub ('palisade db keygen'; repeatable); without one, hub vulndb bundles are ignored")
	fs.StringVar(&f.Images.RegistryConfig, "registry-config", "", "Docker config file with registry credentials (e.g. a mounted kubernetes.io/dockerconfigjson Secret); default: anonymous")
	fs.StringArrayVar(&f.Images.InsecureRegistries, "insecure-registry", nil, "registry host[:port] that may be reached over plain HTTP (repeatable); no other registry ever is")
	fs.StringVar(&f.Images.Platform, "image-platform", "", "platform chosen from multi-arch images, e.g. linux/arm64 (default: linux and the agent's architecture)")
	fs.Int64Var(&f.ScanMaxFileMiB, "scan-max-file-mib", DefaultScanMaxFileBytes>>20, "largest file of an image kept for the catalogers (a JAR, a package database)")
	fs.Int64Var(&f.ScanMaxMemoryMiB, "scan-max-memory-mib", DefaultScanMaxMemoryBytes>>20, "image files kept in memory at once during one scan; an image needing more is not scanned (an error names it)")
	fs.Int64Var(&f.SBOMCacheMiB, "sbom-cache-mib", 64, "on-disk size limit of the scanned images' package lists; the least recently used are removed beyond it")
	fs.Int64Var(&f.LayerCacheMiB, "layer-cache-mib", 128, "on-disk size limit of what each image layer contributed (--state-dir/layers, by layer digest): a new image on layers read before pulls only its own; the least recently used are removed beyond it")
	f.bindRuntime(fs)
}

// Resolve completes the configuration after parsing: the token from
// PALISADE_AGENT_TOKEN when not given, the outbox size in bytes and the
// image scanner's settings.
func (f *Flags) Resolve(getenv func(string) string) Config {
	c := f.Config
	if c.Token == "" {
		c.Token = getenv("PALISADE_AGENT_TOKEN")
	}
	c.OutboxMaxBytes = f.OutboxMiB << 20
	c.MaxBundleBytes = f.MaxBundleMiB << 20
	if f.ScanImages {
		images := f.Images
		images.CacheMaxBytes = f.SBOMCacheMiB << 20
		images.LayerCacheMaxBytes = f.LayerCacheMiB << 20
		images.MaxFileBytes = f.ScanMaxFileMiB << 20
		images.MaxMemoryBytes = f.ScanMaxMemoryMiB << 20
		c.Images = &images
	}
	return c
}
