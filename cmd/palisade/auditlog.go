package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/auditlog"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/report"
)

// auditOptions are the detection flags shared by analyze and serve.
type auditOptions struct {
	detectionsFile string
	selectors      []string
	burstThreshold int
	burstWindow    time.Duration
}

func (o *auditOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.detectionsFile, "detections", "", "file of custom detections in CEL (kind AuditDetections)")
	f.StringSliceVar(&o.selectors, "select", nil, "only detections whose ID matches these (exact or prefix*)")
	f.IntVar(&o.burstThreshold, "burst-threshold", auditlog.DefaultBurstThreshold, "forbidden responses per identity that make a burst")
	f.DurationVar(&o.burstWindow, "burst-window", auditlog.DefaultBurstWindow, "window of the forbidden-burst detection")
}

func (o *auditOptions) engine(ctx context.Context) (*auditlog.Engine, error) {
	var custom []*auditlog.Detection
	if o.detectionsFile != "" {
		var err error
		if custom, err = auditlog.LoadCustom(ctx, o.detectionsFile); err != nil {
			return nil, err
		}
	}
	return auditlog.NewEngine(auditlog.EngineOptions{Custom: custom, Select: o.selectors, BurstThreshold: o.burstThreshold, BurstWindow: o.burstWindow})
}

func newAuditlogCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auditlog",
		Short: "Detect risky activity in Kubernetes audit logs",
	}
	cmd.AddCommand(newAuditlogAnalyzeCommand(s, g), newAuditlogServeCommand(s, g), newAuditlogPolicyCommand(s), newAuditlogDetectionsCommand(s, g))
	return cmd
}

func newAuditlogAnalyzeCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &auditOptions{}
	so := &scanOptions{}
	var maxEvent int
	var summary, allowUnreadable bool
	cmd := &cobra.Command{
		Use:   "analyze FILE... | -",
		Short: "Run the detections over audit log files (plain or gzip, rotated files in order)",
		Long: `Read Kubernetes audit events and report what the detections find.

Events are read as every source writes them: the API server's
--audit-log-path files (plain or gzip; rotated files are read oldest first
by their first event), audit.k8s.io/v1 or v1beta1, with or without
apiVersion and kind, EventList batches, JSON lines, pretty-printed JSON or
a JSON array, and events inside log shippers' records (Docker/CRI "log",
CloudWatch "message", Splunk "event", Cloud Logging "jsonPayload",
Elasticsearch "_source", AKS "properties.log", ...). The stages of one
request are grouped by auditID and judged once, on the most complete stage
seen, so exec, attach, port-forward and watch requests that only log
ResponseStarted count too.

Reading streams in constant memory. Every line that is not an audit event
(not JSON, JSON of something else, truncated, over --max-event-size) is a
problem with its file and line, and makes the exit code 2 unless
--ignore-input-errors; reading no event at all is always exit code 2.
So do requests a detection is about but cannot judge because the audit
policy did not log the body it reads (pods, workloads, RBAC objects,
Services or ConfigMaps written at Metadata level): the detections are
named with the count and the first such request.

With --summary, print the per-identity access summary instead: who read
which Secrets, who exec'd, attached or port-forwarded where.

Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage or
read error, or input not understood.`,
		Example: `  palisade auditlog analyze /var/log/kubernetes/audit.log*
  zcat audit.log.gz | palisade auditlog analyze - -o json
  palisade auditlog analyze audit.log --summary`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if _, _, err := so.FailThreshold(); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			engine, err := o.engine(cmd.Context())
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			a, err := auditlog.Analyze(cmd.Context(), engine, auditlog.Reader{MaxEventBytes: maxEvent, AllowUnreadable: allowUnreadable}, args, s.In)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if !g.Quiet {
				fmt.Fprintf(s.Err, "read %d events (%d requests) from %d file(s); %d line(s) or item(s) not understood\n",
					a.Stats.Events, a.Requests, a.Stats.Files, a.Stats.Skipped)
			}
			if summary {
				if err := writeAccessSummary(s, g.Output, a.Access); err != nil {
					return err
				}
				if a.Report.Summary.Errors > 0 {
					for _, p := range a.Report.Problems {
						fmt.Fprintf(s.Err, "%s: %s\n", p.Level, p)
					}
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("%d input error(s); the summary covers the rest of the input", a.Report.Summary.Errors)}
				}
				return nil
			}
			return so.writeReport(s, g, format, a.Report)
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&so.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity, or none")
	cmd.Flags().StringVar(&so.OutputFile, "output-file", "", "write the report to this file")
	cmd.Flags().IntVar(&maxEvent, "max-event-size", auditlog.DefaultMaxEventBytes, "skip events larger than this many bytes")
	cmd.Flags().BoolVar(&summary, "summary", false, "print the per-identity access summary instead of findings")
	cmd.Flags().BoolVar(&allowUnreadable, "ignore-input-errors", false, "report lines that are not audit events, and requests logged without the body a detection needs, as warnings instead of exiting 2 (reading no event at all still exits 2)")
	return cmd
}

func writeAccessSummary(s *streams, output string, a *auditlog.AccessSummary) error {
	switch output {
	case "json":
		b, _ := json.MarshalIndent(a, "", "  ")
		fmt.Fprintln(s.Out, string(b))
	case "yaml":
		b, _ := yaml.Marshal(a)
		fmt.Fprint(s.Out, string(b))
	case "table", "":
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IDENTITY\tACTION\tTARGET\tCOUNT\tDENIED\tFIRST\tLAST")
		for _, id := range a.Identities {
			for _, acc := range id.Accesses {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", id.Identity, acc.Action, acc.Target, acc.Count, acc.Denied,
					acc.First.UTC().Format(time.RFC3339), acc.Last.UTC().Format(time.RFC3339))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if a.Dropped > 0 {
			fmt.Fprintf(s.Out, "(%d further accesses not itemised)\n", a.Dropped)
		}
	default:
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("--summary supports -o table, json or yaml, not %q", output)}
	}
	return nil
}

func newAuditlogServeCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &auditOptions{}
	var listen, certFile, keyFile, clientCA, outputFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run as the API server's audit webhook backend and detect live",
		Long: `Serve HTTPS for the API server's audit webhook backend
(--audit-webhook-config-file) and run the detections on every batch.
Findings are written as JSON lines (one finding per line) to standard
output or --output-file. With --client-ca-file, only clients presenting a
certificate signed by that CA (the API server) are accepted.`,
		Example: `  palisade auditlog serve --listen :8443 --tls-cert-file tls.crt --tls-key-file tls.key --client-ca-file apiserver-ca.crt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if certFile == "" || keyFile == "" {
				return &exitCodeError{Code: exitError, Err: errors.New("--tls-cert-file and --tls-key-file are required: audit events carry credentials' names and request bodies")}
			}
			engine, err := o.engine(cmd.Context())
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			out := s.Out
			if outputFile != "" {
				f, err := os.OpenFile(outputFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				defer f.Close()
				out = f
			}
			var mu sync.Mutex
			enc := json.NewEncoder(out)
			logger := slog.New(slog.NewJSONHandler(s.Err, nil))
			srv := &auditlog.Server{Engine: engine, Log: logger, Sink: func(fs []finding.Finding) {
				mu.Lock()
				defer mu.Unlock()
				for _, f := range fs {
					_ = enc.Encode(f)
				}
			}}
			tlsCfg, err := serverTLS(certFile, keyFile, clientCA)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			hs := &http.Server{Handler: srv, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
			logger.Info("audit webhook listening", "address", ln.Addr().String())
			go func() {
				// Long-running requests (exec, watch) may log their final
				// stage hours later: judge them when the stage window passes
				// even if the cluster falls quiet.
				tick := time.NewTicker(auditlog.DefaultStageWindow / 4)
				defer tick.Stop()
				for {
					select {
					case <-cmd.Context().Done():
						shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						_ = hs.Shutdown(shutdown)
						return
					case now := <-tick.C:
						srv.Expire(now)
					}
				}
			}()
			err = hs.ServeTLS(ln, "", "")
			srv.Flush()
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return &exitCodeError{Code: exitError, Err: err}
			}
			return nil
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&listen, "listen", ":8443", "address to listen on")
	cmd.Flags().StringVar(&certFile, "tls-cert-file", "", "serving certificate (PEM)")
	cmd.Flags().StringVar(&keyFile, "tls-key-file", "", "serving key (PEM)")
	cmd.Flags().StringVar(&clientCA, "client-ca-file", "", "require client certificates signed by this CA")
	cmd.Flags().StringVar(&outputFile, "output-file", "", "append findings (JSON lines) to this file")
	return cmd
}

// serverTLS loads the serving certificate for each handshake, so a
// rotated certificate is picked up without a restart.
func serverTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("TLS key pair: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		return &c, err
	}}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca-file %s: no PEM certificates", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func newAuditlogPolicyCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "policy",
		Short: "Print the recommended audit policy (Secrets at Metadata level: bodies never logged)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprint(s.Out, auditlog.RecommendedPolicy)
			return err
		},
	}
}

func newAuditlogDetectionsCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "detections",
		Short: "List the detections (built-in and custom)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			engine, err := o.engine(cmd.Context())
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			var infos []finding.RuleInfo
			for _, d := range engine.Detections() {
				infos = append(infos, d.Info())
			}
			switch g.Output {
			case "json":
				b, _ := json.MarshalIndent(map[string]any{"detections": infos}, "", "  ")
				fmt.Fprintln(s.Out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(map[string]any{"detections": infos})
				fmt.Fprint(s.Out, string(b))
			default:
				tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tTITLE")
				for _, i := range infos {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", i.ID, i.Severity, strings.TrimSpace(i.Title))
				}
				return tw.Flush()
			}
			return nil
		},
	}
	o.addFlags(cmd)
	return cmd
}
