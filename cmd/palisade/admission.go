package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/cluster"
)

func newAdmissionCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admission",
		Short: "Run Palisade as a Kubernetes admission controller",
		Long: `Validating and mutating admission webhooks for Pods and every workload kind:
Pod Security, hardening and custom rules, registry allow-list, digest pinning,
cosign signatures and a vulnerability gate. See docs/admission.md.`,
	}
	cmd.AddCommand(newAdmissionServeCommand(s, g), newAdmissionManifestsCommand(s, g))
	return cmd
}

func newAdmissionServeCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		policyFile, listen, certFile, keyFile string
		logLevel                              string
		reload                                time.Duration
		pullSecrets                           bool
		cacheDir                              string
		maxContainers, perReview, global      int
	)
	cmd := &cobra.Command{
		Use:   "serve --policy FILE --listen ADDR --tls-cert-file F --tls-key-file F",
		Short: "Serve the admission webhooks (/validate, /mutate) with /healthz, /readyz and /metrics",
		Long: `Serve the admission webhooks over HTTPS. The policy file and the certificate
are watched and reloaded when they change; a policy that fails to load is
logged and the previous one stays in force. Events and logs are JSON lines on
standard error.

Exit codes: 0 after a clean shutdown (SIGTERM), 2 for a bad flag, policy or
certificate, or when the address cannot be listened on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--log-level: %w", err)}
			}
			if policyFile == "" || certFile == "" || keyFile == "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--policy, --tls-cert-file and --tls-key-file are required")}
			}
			logger := slog.New(slog.NewJSONHandler(s.Err, &slog.HandlerOptions{Level: level}))
			opts := admission.Options{PolicyFile: policyFile, CertFile: certFile, KeyFile: keyFile, Logger: logger, ReloadInterval: reload,
				MaxContainers: maxContainers, ReviewConcurrency: perReview, GlobalConcurrency: global}
			var err error
			if opts.Scanner, opts.Fixable, err = newAdmissionScanner(cacheDir); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if pullSecrets {
				cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context, RequestTimeout: 5 * time.Second})
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				if opts.Client, err = cluster.NewClient(cfg); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			srv, err := admission.NewServer(cmd.Context(), opts)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--listen: %w", err)}
			}
			p := srv.Policy()
			logger.Info("admission webhook serving", "address", ln.Addr().String(), "policy", p.Name, "hash", p.Hash, "rules", p.Rules().Len())
			if err := srv.Serve(cmd.Context(), ln); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			logger.Info("admission webhook stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "AdmissionPolicy file (palisade.io/v1alpha1), reloaded on change")
	f.StringVar(&listen, "listen", ":8443", "address to serve HTTPS on")
	f.StringVar(&certFile, "tls-cert-file", "", "serving certificate (PEM), reloaded on rotation")
	f.StringVar(&keyFile, "tls-key-file", "", "serving key (PEM), reloaded on rotation")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&reload, "reload-interval", 2*time.Second, "how often the policy and certificate files are checked for changes")
	f.StringVar(&cacheDir, "cache-dir", "", "cache directory holding the vulnerability database of the image vulnerability gate (default $PALISADE_CACHE_DIR or the user cache directory)")
	f.BoolVar(&pullSecrets, "pull-secrets", false, "read imagePullSecrets through the API (in-cluster config or --kubeconfig) when the policy asks for them")
	f.IntVar(&maxContainers, "max-containers", admission.DefaultMaxContainers, "deny a pod spec with more containers than this (containers, initContainers and ephemeralContainers together)")
	f.IntVar(&perReview, "review-concurrency", admission.DefaultReviewConcurrency, "registry and scanner checks one review runs at a time")
	f.IntVar(&global, "global-concurrency", admission.DefaultGlobalConcurrency, "registry and scanner checks all reviews run at a time")
	return cmd
}

func newAdmissionManifestsCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		o      admission.ManifestOptions
		caFile string
	)
	cmd := &cobra.Command{
		Use:   "manifests",
		Short: "Print the install manifests (Deployment, PDB, Service, webhook configurations)",
		Long: `Print a complete install of the admission controller as YAML: namespace,
service account, policy ConfigMap, Deployment with anti-affinity and a
restricted security context, PodDisruptionBudget, Service, and the validating
and mutating webhook configurations, whose namespaceSelector excludes
kube-system and Palisade's own namespace. The serving certificate is a Secret
named palisade-admission-tls: see docs/admission.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.namespace != "" {
				o.Namespace = g.namespace
			}
			if caFile != "" {
				ca, err := os.ReadFile(caFile)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--ca-file: %w", err)}
				}
				o.CABundle = ca
			}
			out, err := admission.Manifests(o)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			_, err = s.Out.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Image, "image", "", "palisade image (default ghcr.io/palisade-sec/palisade:latest)")
	f.IntVar(&o.Replicas, "replicas", 2, "webhook replicas (at least 2)")
	f.StringVar(&caFile, "ca-file", "", "PEM CA that signed the serving certificate, for the webhooks' caBundle")
	f.StringVar(&o.FailurePolicy, "failure-policy", "Fail", "validating webhook failurePolicy: Fail or Ignore")
	f.IntVar(&o.TimeoutSeconds, "timeout-seconds", 10, "webhook timeoutSeconds (1-30)")
	f.BoolVar(&o.PullSecrets, "pull-secrets", false, "grant get on secrets and service accounts to read imagePullSecrets")
	return cmd
}
