package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"

	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/encryption/etcdkv"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/nodeaudit"
	"github.com/palisade-sec/palisade/internal/report"
)

func newClusterCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Verify cluster-wide security properties",
	}
	cmd.AddCommand(newClusterEncryptionCommand(s, g))
	return cmd
}

type clusterEncryptionOptions struct {
	etcd             etcdkv.Options
	etcdPrefix       string
	resources        []string
	encryptionConfig string
	root             string
	rewrite          bool
	pageSize         int64
	timeout          time.Duration
	failOn           string
	outputFile       string
}

func newClusterEncryptionCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &clusterEncryptionOptions{}
	cmd := &cobra.Command{
		Use:   "encryption",
		Short: "Verify that Secrets are encrypted at rest, by reading etcd",
		Long: `Verify encryption at rest. With etcd client credentials, read the raw stored
value of every Secret (and of the other --resources) and report for each
whether it is plaintext or which provider and key encrypted it
(k8s:enc:aescbc|aesgcm|secretbox:v1:<key>:, k8s:enc:kms:v1|v2:<plugin>:),
the counts per provider and key, and the objects still plaintext after
encryption was enabled, with the command that rewrites them
(kubectl get secrets -A -o json | kubectl replace -f -). --rewrite does
that rewrite through the API server (kubeconfig), then reads etcd again.

When the EncryptionConfiguration is readable (--encryption-config, or the
API server's --encryption-provider-config found on this host under
--root), its weaknesses are reported too: identity first, weak or
deprecated providers, old keys, resources not covered.

Without --etcd-endpoints nothing is verified: the report says so and
falls back to what the configuration shows. The first note of every
report states the verification level: etcd, config, flags or none.

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error, unreachable etcd, or a failed rewrite.`,
		Example: `  palisade cluster encryption --etcd-endpoints https://127.0.0.1:2379 \
    --etcd-cacert /etc/kubernetes/pki/etcd/ca.crt \
    --etcd-cert /etc/kubernetes/pki/apiserver-etcd-client.crt \
    --etcd-key /etc/kubernetes/pki/apiserver-etcd-client.key \
    --encryption-config /etc/kubernetes/enc/encryption.yaml
  palisade cluster encryption --etcd-endpoints ... --resources secrets,configmaps --rewrite
  palisade cluster encryption --root /host      # no etcd access: configuration only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			so := &scanOptions{configcmd.ScanFlags{ReportOptions: cli.ReportOptions{FailOn: o.failOn, OutputFile: o.outputFile}}}
			if _, _, err := so.FailThreshold(); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if o.rewrite && len(o.etcd.Endpoints) == 0 {
				return &exitCodeError{Code: exitError, Err: errors.New("--rewrite needs --etcd-endpoints: only etcd shows which objects need it")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			a, err := o.assess(ctx, s, g)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			return so.writeReport(s, g, format, a.Report(encryption.ReviewOptions{Resources: o.resources, Now: time.Now()}))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.etcd.Endpoints, "etcd-endpoints", nil, "etcd client URLs (https://host:2379); without them nothing is verified")
	f.StringVar(&o.etcd.CAFile, "etcd-cacert", "", "CA certificate that signed etcd's serving certificate (PEM)")
	f.StringVar(&o.etcd.CertFile, "etcd-cert", "", "etcd client certificate (PEM), e.g. the API server's etcd client certificate")
	f.StringVar(&o.etcd.KeyFile, "etcd-key", "", "etcd client key (PEM)")
	f.DurationVar(&o.etcd.DialTimeout, "etcd-dial-timeout", 5*time.Second, "give up connecting to etcd after this long")
	f.StringVar(&o.etcdPrefix, "etcd-prefix", "/registry", "the API server's --etcd-prefix")
	f.StringSliceVar(&o.resources, "resources", []string{"secrets"}, "resources to verify: secrets, configmaps, or <resource>.<version>.<group>")
	f.StringVar(&o.encryptionConfig, "encryption-config", "", "the API server's EncryptionConfiguration file, to review it and know the current key")
	f.StringVar(&o.root, "root", "/", "host root to find the API server's configuration in when --encryption-config is not given")
	f.BoolVar(&o.rewrite, "rewrite", false, "rewrite plaintext and stale objects through the API server (uses --kubeconfig), then verify again")
	f.Int64Var(&o.pageSize, "page-size", encryption.DefaultPageSize, "values per etcd range request")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on the whole command after this long")
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none")
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of standard output")
	return cmd
}

// assess gathers the configuration (given, or found on the host) and, with
// etcd access, the stored values; it rewrites when asked.
func (o *clusterEncryptionOptions) assess(ctx context.Context, s *streams, g *globalOptions) (*encryption.Assessment, error) {
	a := &encryption.Assessment{}
	if o.encryptionConfig != "" {
		c, err := encryption.LoadConfig(o.encryptionConfig)
		if err != nil {
			return nil, fmt.Errorf("--encryption-config: %w", err)
		}
		a.Config = c
	} else {
		a = nodeaudit.AssessEncryption(ctx, o.root)
	}
	if len(o.etcd.Endpoints) == 0 {
		a.Problems = append(a.Problems, finding.Problem{Level: finding.LevelWarning,
			Message: "no etcd access (--etcd-endpoints not given): stored values were not read, so encryption at rest is not verified"})
		return a, nil
	}
	kv, err := etcdkv.Dial(ctx, o.etcd)
	if err != nil {
		return nil, err
	}
	defer func() { _ = kv.Close() }()
	progress := cli.NewProgress(s, &g.Global)
	scan := encryption.ScanOptions{Prefix: o.etcdPrefix, Resources: o.resources, PageSize: o.pageSize,
		Progress: func(res string, read int, total int64) {
			progress.Update(fmt.Sprintf("reading %s from etcd: %d/%d", res, read, total))
		}}
	inv, err := encryption.Scan(ctx, kv, scan)
	progress.Done()
	if err != nil {
		return nil, err
	}
	a.Inventory = inv
	if !o.rewrite {
		return a, nil
	}
	if err := o.rewriteStale(ctx, g, a); err != nil {
		return nil, err
	}
	if a.Inventory, err = encryption.Scan(ctx, kv, scan); err != nil {
		return nil, fmt.Errorf("verify after rewrite: %w", err)
	}
	return a, nil
}

// rewriteStale rewrites, through the API server, every object that is
// plaintext or (when the configuration is known) not stored with the
// current writing key.
func (o *clusterEncryptionOptions) rewriteStale(ctx context.Context, g *globalOptions, a *encryption.Assessment) error {
	cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context})
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	var failed []error
	for _, r := range a.Inventory.Resources {
		var write *encryption.Storage
		if a.Config != nil {
			w := a.Config.WriteStorage(r.Resource)
			if !w.Encrypted {
				return fmt.Errorf("rewrite %s: the encryption configuration writes it as plaintext; refusing to rewrite", r.Resource)
			}
			write = &w
		}
		stale := r.Stale(write)
		if len(stale) == 0 {
			continue
		}
		gvr, err := encryption.GroupVersionResource(r.Resource)
		if err != nil {
			return err
		}
		res := encryption.Rewrite(ctx, client, gvr, stale)
		a.Problems = append(a.Problems, finding.Problem{Level: finding.LevelNote,
			Message: fmt.Sprintf("%s: rewrote %d object(s) through the API server (%d deleted meanwhile, %d failed)", r.Resource, res.Rewritten, res.Gone, len(res.Errors))})
		failed = append(failed, res.Errors...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("rewrite: %w", errors.Join(failed...))
	}
	return nil
}
