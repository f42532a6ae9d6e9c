package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Options configure a Server.
type Options struct {
	// PolicyFile is the AdmissionPolicy file, reloaded when it changes.
	PolicyFile string
	// CertFile and KeyFile are the serving certificate and key (PEM),
	// reloaded when they change (certificate rotation).
	CertFile, KeyFile string
	// Logger receives operational logs; Events receives admission events
	// (default: a LogSink on Logger).
	Logger *slog.Logger
	Events EventSink
	// Client reads pull secrets when the policy asks for them, and the
	// Secrets of verifyImages keys named k8s://namespace/name; nil
	// disables both.
	Client kubernetes.Interface
	// Scanner is the vulnerability scanner for the vulnerability gate;
	// Fixable says whether one of its findings has a fix.
	Scanner ImageScanner
	Fixable func(finding.Finding) bool
	// RegistryTransport reaches registries (default: tight timeouts, the
	// system's CAs).
	RegistryTransport http.RoundTripper
	// MaxContainers, ReviewConcurrency and GlobalConcurrency bound the
	// work of reviews (defaults DefaultMaxContainers,
	// DefaultReviewConcurrency, DefaultGlobalConcurrency).
	MaxContainers, ReviewConcurrency, GlobalConcurrency int
	// ReloadInterval is how often the policy and certificate files are
	// checked for changes (default 2s).
	ReloadInterval time.Duration
}

// Server is the admission webhook server: /validate, /mutate, /healthz,
// /readyz and /metrics.
type Server struct {
	opts     Options
	log      *slog.Logger
	policy   atomic.Pointer[Policy]
	decider  *Decider
	metrics  *Metrics
	certs    *certReloader
	policyAt fileState
	mu       sync.Mutex // serialises reloads
}

// NewServer loads the policy and the certificate; either failing is an error.
func NewServer(ctx context.Context, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if opts.Events == nil {
		opts.Events = LogSink{Logger: opts.Logger}
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 2 * time.Second
	}
	s := &Server{opts: opts, log: opts.Logger}
	p, st, err := loadPolicyState(ctx, opts.PolicyFile, s.secrets())
	if err != nil {
		return nil, err
	}
	s.policy.Store(p)
	s.policyAt = st
	if opts.CertFile != "" || opts.KeyFile != "" {
		if s.certs, err = newCertReloader(opts.CertFile, opts.KeyFile); err != nil {
			return nil, err
		}
	}
	images := newImageChecks(opts.RegistryTransport, opts.Scanner, opts.Fixable)
	var secrets *pullSecrets
	if opts.Client != nil {
		secrets = newPullSecrets(opts.Client)
	}
	s.metrics = newMetrics(images.cacheStats, s.policy.Load)
	images.metrics = s.metrics
	s.decider = &Decider{policy: s.policy.Load, images: images, secrets: secrets, events: opts.Events, metrics: s.metrics,
		limits: newLimits(opts.MaxContainers, opts.ReviewConcurrency, opts.GlobalConcurrency)}
	if s.certs != nil {
		s.certs.onReload = func(err error) {
			if err != nil {
				s.metrics.reloads.WithLabelValues("certificate", "error").Inc()
				s.log.Error("serving certificate not reloaded; keeping the previous one", "cert", opts.CertFile, "key", opts.KeyFile, "error", err)
				return
			}
			s.metrics.reloads.WithLabelValues("certificate", "ok").Inc()
			s.log.Info("serving certificate reloaded", "cert", opts.CertFile)
		}
	}
	if p.images.Vulnerabilities != nil && opts.Scanner == nil {
		s.log.Warn("policy has a vulnerability gate but no scanner is available; its failurePolicy decides every image", "policy", opts.PolicyFile)
	}
	return s, nil
}

// Policy returns the policy in force.
func (s *Server) Policy() *Policy { return s.policy.Load() }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Handler routes the endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/validate", s.reviewHandler(EndpointValidate))
	mux.Handle("/mutate", s.reviewHandler(EndpointMutate))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.policy.Load() == nil {
			http.Error(w, "no policy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

// TLSConfig serves the reloaded certificate.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.get}
}

// Serve answers on ln (TLS when a certificate is configured) until ctx
// ends, then drains for up to 10 s. It also watches the policy file.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      35 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if s.certs != nil {
		ln = tls.NewListener(ln, s.TLSConfig())
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.watch(watchCtx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watch polls the policy file (and, through GetCertificate, the
// certificate) for changes.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ReloadPolicy(ctx)
			if s.certs != nil {
				s.certs.check()
			}
		}
	}
}

// ReloadPolicy re-reads the policy file if it changed. A policy that does
// not load is logged and the previous one stays in force.
func (s *Server) ReloadPolicy(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, changed, err := s.policyAt.changed(s.opts.PolicyFile)
	if err != nil {
		s.metrics.reloads.WithLabelValues("policy", "error").Inc()
		s.log.Error("policy file not readable; keeping the previous policy", "policy", s.opts.PolicyFile, "error", err)
		return
	}
	if !changed {
		return
	}
	p, err := parsePolicy(ctx, s.opts.PolicyFile, st.data, s.secrets())
	st.data = nil
	s.policyAt = st
	if err != nil {
		s.metrics.reloads.WithLabelValues("policy", "error").Inc()
		s.log.Error("policy not reloaded; keeping the previous policy", "error", err, "hash", st.hash)
		return
	}
	s.policy.Store(p)
	s.metrics.reloads.WithLabelValues("policy", "ok").Inc()
	s.log.Info("policy reloaded", "policy", p.Name, "file", p.File, "hash", p.Hash, "rules", p.rules.Len())
}

// reviewHandler serves one endpoint.
func (s *Server) reviewHandler(endpoint string) http.Handler {
	hist := s.metrics.latency.WithLabelValues(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic answering an admission review", "endpoint", endpoint, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		if r.Method != http.MethodPost {
			s.bad(w, r, endpoint, http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method))
			return
		}
		body := http.MaxBytesReader(w, r.Body, MaxReviewBytes)
		ar, err := DecodeReview(body)
		if err != nil {
			s.bad(w, r, endpoint, http.StatusBadRequest, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestBudget(r))
		defer cancel()
		resp := s.decider.Review(ctx, endpoint, ar.Request)
		var buf bytes.Buffer
		if err := encodeResponse(&buf, resp); err != nil {
			s.log.Error("encode admission response", "endpoint", endpoint, "uid", ar.Request.UID, "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf.Bytes())
		hist.Observe(time.Since(start).Seconds())
	})
}

func (s *Server) bad(w http.ResponseWriter, r *http.Request, endpoint string, code int, err error) {
	s.metrics.badRequests.Inc()
	s.log.Warn("bad admission request", "endpoint", endpoint, "remote", r.RemoteAddr, "status", code, "error", err)
	http.Error(w, err.Error(), code)
}

// requestBudget is the time left to decide: the API server's timeout
// (sent as ?timeout=10s) less a margin to answer in, so a slow registry
// leads to the policy's failure mode rather than the API server's.
func requestBudget(r *http.Request) time.Duration {
	budget := 10 * time.Second
	if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 {
		budget = t
	}
	budget -= budget / 10
	return min(max(budget, 500*time.Millisecond), 30*time.Second)
}
