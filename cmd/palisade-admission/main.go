// Command palisade-admission is the admission webhook alone: the same
// server as `palisade admission serve`, with the same flags, in a binary
// that links only internal/admission, the rules and the image scanner of
// its vulnerability gate. It leaves out the hub and its database drivers,
// Helm and kustomize rendering, BuildKit, the browser-driven tests' tooling
// and the other commands, so far fewer binary pages stay resident in each
// webhook replica (bench/admission/README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends; it returns 0 after a clean shutdown and 2 for
// a bad flag, policy or certificate, or an address that cannot be used.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("palisade-admission", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	policyFile := fs.String("policy", "", "AdmissionPolicy file (palisade.io/v1alpha1), reloaded on change")
	listen := fs.String("listen", ":8443", "address to serve HTTPS on")
	certFile := fs.String("tls-cert-file", "", "serving certificate (PEM), reloaded on rotation")
	keyFile := fs.String("tls-key-file", "", "serving key (PEM), reloaded on rotation")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	reload := fs.Duration("reload-interval", 2*time.Second, "how often the policy and certificate files are checked for changes")
	cacheDir := fs.String("cache-dir", "", "cache directory holding the vulnerability database of the image vulnerability gate (default $PALISADE_CACHE_DIR or the user cache directory)")
	pullSecrets := fs.Bool("pull-secrets", false, "read imagePullSecrets through the API (in-cluster config or --kubeconfig) when the policy asks for them")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig for --pull-secrets and --kube-events outside the cluster")
	kubeEvents := fs.Bool("kube-events", false, "write each break-glass use and refused attempt as a Kubernetes Event (reason PalisadeBreakGlass) for the agent to forward to the hub; needs RBAC create on events")
	ledger := fs.String("break-glass-ledger", "", "NAMESPACE/NAME of an existing ConfigMap to which each break-glass Event is also appended (the newest 256), so an agent down longer than the Events' hour in the API server still forwards it; needs RBAC get and update on that ConfigMap")
	kubeEventRate := fs.Float64("kube-event-rate", admission.DefaultEventRate, "Kubernetes Events written per second at most after a burst of 20; the excess is counted in palisade_admission_kube_events_dropped_total and only logged")
	maxContainers := fs.Int("max-containers", admission.DefaultMaxContainers, "deny a pod spec with more containers than this (containers, initContainers and ephemeralContainers together)")
	perReview := fs.Int("review-concurrency", admission.DefaultReviewConcurrency, "registry and scanner checks one review runs at a time")
	global := fs.Int("global-concurrency", admission.DefaultGlobalConcurrency, "registry and scanner checks all reviews run at a time")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	if *version {
		fmt.Fprintln(stderr, "palisade-admission", buildinfo.Get().Version)
		return 0
	}
	if err := serve(ctx, serveOptions{policy: *policyFile, listen: *listen, cert: *certFile, key: *keyFile, logLevel: *logLevel,
		reload: *reload, cacheDir: *cacheDir, pullSecrets: *pullSecrets, kubeconfig: *kubeconfig,
		kubeEvents: *kubeEvents, kubeEventRate: *kubeEventRate, ledger: *ledger, maxContainers: *maxContainers, perReview: *perReview, global: *global}, stderr); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	return 0
}

type serveOptions struct {
	policy, listen, cert, key, logLevel, cacheDir, kubeconfig string
	ledger                                                    string // NAMESPACE/NAME of the break-glass ledger ConfigMap
	reload                                                    time.Duration
	kubeEventRate                                             float64
	pullSecrets, kubeEvents                                   bool
	maxContainers, perReview, global                          int
}

func serve(ctx context.Context, o serveOptions, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if o.policy == "" || o.cert == "" || o.key == "" {
		return errors.New("--policy, --tls-cert-file and --tls-key-file are required")
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := admission.Options{PolicyFile: o.policy, CertFile: o.cert, KeyFile: o.key, Logger: logger, ReloadInterval: o.reload,
		MaxContainers: o.maxContainers, ReviewConcurrency: o.perReview, GlobalConcurrency: o.global}
	dir, err := vulndb.CacheDir(o.cacheDir, os.Getenv)
	if err != nil {
		return err
	}
	version := buildinfo.Get().Version
	opts.Scanner = imagescan.NewScanner(imagescan.Options{CacheDir: dir, Scanners: imagescan.Scanners{Vuln: true},
		Image: image.Options{UserAgent: "palisade-admission/" + version}, ToolName: "palisade", ToolVersion: version})
	opts.Fixable = imagescan.Fixable
	var client kubernetes.Interface
	if o.pullSecrets || o.kubeEvents {
		cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: o.kubeconfig, RequestTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		if client, err = cluster.NewClient(cfg); err != nil {
			return err
		}
	}
	if o.pullSecrets {
		opts.Client = client
	}
	if o.ledger != "" && !o.kubeEvents {
		return errors.New("--break-glass-ledger needs --kube-events")
	}
	var sink *admission.KubeEventSink
	if o.kubeEvents {
		host, _ := os.Hostname()
		sink = admission.NewKubeEventSink(client, logger, o.kubeEventRate, 0, host)
		if o.ledger != "" {
			ns, name, ok := strings.Cut(o.ledger, "/")
			if !ok || ns == "" || name == "" {
				return fmt.Errorf("--break-glass-ledger %q: want NAMESPACE/NAME", o.ledger)
			}
			sink.WithLedger(&admission.BreakGlassLedger{Client: client, Namespace: ns, Name: name})
		}
		opts.Events = admission.MultiSink{admission.LogSink{Logger: logger}, sink}
		go sink.Run(ctx)
	}
	srv, err := admission.NewServer(ctx, opts)
	if err != nil {
		return err
	}
	if sink != nil {
		srv.Metrics().Registry.MustRegister(sink.Collectors()...)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	p := srv.Policy()
	logger.Info("admission webhook serving", "address", ln.Addr().String(), "policy", p.Name, "hash", p.Hash, "rules", p.Rules().Len())
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("admission webhook stopped")
	return nil
}
