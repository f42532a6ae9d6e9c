package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// legacyHubDatabase is where hubs before the data directory kept their
// database: the working directory of whoever ran them.
const legacyHubDatabase = "palisade-hub.db"

func newHubCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run the fleet hub and manage its clusters, tokens and users",
		Long: `The hub collects findings, images, vulnerabilities and admission events from
the agents of every cluster in the fleet (see docs/fleet.md).`,
	}
	var database, dataDir, caKeyFile, bundleKeyFile string
	var initHub bool
	var encryptionMaxAge time.Duration
	cmd.PersistentFlags().StringVar(&database, "database", "", "database URL: sqlite:///path/hub.db or postgres://user@host/db (default $"+hubDatabaseEnv+", else hub.db in --data-dir)")
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "", "directory of the hub's state (default $"+hubDataDirEnv+", else $XDG_STATE_HOME/palisade/hub, ~/.local/state/palisade/hub, or /var/lib/palisade/hub for root)")
	cmd.PersistentFlags().StringVar(&caKeyFile, "ca-key-file", "", "the hub CA's private key, PKCS #8 PEM, mode 0600 (default keys/ca.key in --data-dir; created on first start; every replica needs the same file)")
	cmd.PersistentFlags().StringVar(&bundleKeyFile, "bundle-signing-key-file", "", "the bundle-signing private key, PKCS #8 PEM, mode 0600 (default keys/bundle-signing.key in --data-dir; created on first start; every replica needs the same file)")
	cmd.PersistentFlags().BoolVar(&initHub, "init", false, "let a command other than 'hub serve' create a new hub where none exists")
	cmd.PersistentFlags().DurationVar(&encryptionMaxAge, "encryption-max-age", hub.DefaultEncryptionMaxAge, "placement trusts an etcd verification of encryption at rest for this long")
	open := func(cmd *cobra.Command, cfg hub.Config) (*hub.Hub, store.Store, error) {
		privateUmask()
		loc, err := locateHubState(database, dataDir, os.Getenv, os.Geteuid())
		if err != nil {
			return nil, nil, &exitCodeError{Code: exitError, Err: err}
		}
		keys, err := loc.keyFiles(caKeyFile, bundleKeyFile)
		if err != nil {
			return nil, nil, &exitCodeError{Code: exitError, Err: err}
		}
		if err := loc.prepare(cmd.Name() == "serve" || initHub); err != nil {
			return nil, nil, &exitCodeError{Code: exitError, Err: err}
		}
		st, err := store.Open(cmd.Context(), loc.database)
		if err != nil {
			return nil, nil, &exitCodeError{Code: exitError, Err: err}
		}
		cfg.Store, cfg.Keys = st, keys
		if cfg.Logger == nil {
			cfg.Logger = slog.New(slog.NewJSONHandler(s.Err, nil))
		}
		if cfg.EncryptionMaxAge == 0 {
			cfg.EncryptionMaxAge = encryptionMaxAge
		}
		h, err := hub.New(cmd.Context(), cfg)
		if err != nil {
			st.Close()
			return nil, nil, &exitCodeError{Code: exitError, Err: err}
		}
		if cmd.Name() == "serve" {
			fmt.Fprintf(s.Err, "palisade hub: state in %s, private keys in %s and %s\n", loc, keys.CAKey, keys.BundleKey)
		}
		return h, st, nil
	}
	cmd.AddCommand(newHubServeCommand(s, open, &encryptionMaxAge), newHubTokenCommand(s, g, open), newHubUserCommand(s, g, open), newHubPlaceCommand(s, g, open), newHubBundleCommand(s, open), newHubProfilesCommand(s, open))
	return cmd
}

// hubOpener opens the hub's store and starts a hub over it with cfg
// (Store and Keys filled in); the caller closes the store.
type hubOpener func(cmd *cobra.Command, cfg hub.Config) (*hub.Hub, store.Store, error)

func newHubServeCommand(s *streams, open hubOpener, encryptionMaxAge *time.Duration) *cobra.Command {
	var listen string
	var hosts []string
	var certTTL, stale, offline time.Duration
	var verbose bool
	var trustedProxies []string
	var clientFailures, maxBundleSends, maxIdleConns int
	var tlsCertFile, tlsKeyFile string
	var admissionQuota int64
	var admissionRetention, unusedScanRetention time.Duration
	var scanQuota, findingsQuota int64
	var profileWindow, profileRetention time.Duration
	var profileQuota int
	var debugListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the hub's HTTPS API (mutual TLS for agents)",
		Example: `  palisade hub serve --listen :8443 --data-dir /var/lib/palisade/hub
  palisade hub serve --listen :8443 --database postgres://palisade@db/palisade --tls-san hub.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewJSONHandler(s.Err, &slog.HandlerOptions{Level: level}))
			proxies, err := parsePrefixes(trustedProxies)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--trusted-proxies: %w", err)}
			}
			limits := hub.DefaultAuthLimits()
			if clientFailures <= 0 {
				limits.Client.Free, limits.Token.Free = -1, -1 // off
			} else {
				limits.Client.Free = clientFailures
			}
			h, st, err := open(cmd, hub.Config{Hosts: hosts, TLSCertFile: tlsCertFile, TLSKeyFile: tlsKeyFile, CertTTL: certTTL, StaleAfter: stale, OfflineAfter: offline, Logger: log, EncryptionMaxAge: *encryptionMaxAge,
				AuthLimits: limits, TrustedProxies: proxies, MaxBundleSends: maxBundleSends, MaxIdleConns: maxIdleConns,
				AdmissionEventsPerCluster: cmp.Or(admissionQuota, -1), AdmissionEventRetention: cmp.Or(admissionRetention, -1),
				ImageScansPerCluster: cmp.Or(scanQuota, -1), UnusedImageScanRetention: cmp.Or(unusedScanRetention, -1),
				RuntimeProfileRetention: cmp.Or(profileRetention, -1),
				Limits:                  store.IngestLimits{FindingsPerCluster: cmp.Or(findingsQuota, -1), ProfilesPerCluster: cmp.Or(profileQuota, -1), ProfileWindow: profileWindow}}) // sets the 077 umask of the hub's state
			if err != nil {
				return err
			}
			defer st.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("listen %s: %w", listen, err)}
			}
			if debugListen != "" {
				_, stop, err := serveDebug(cmd.Context(), debugListen, log)
				if err != nil {
					ln.Close()
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--debug-listen: %w", err)}
				}
				defer stop()
			}
			log.Info("hub serving", slog.String("address", ln.Addr().String()), slog.String("database", st.Backend()),
				slog.String("caFingerprint", h.CAFingerprint()))
			return h.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":8443", "address to listen on")
	f.StringVar(&tlsCertFile, "tls-cert-file", "", "an operator's certificate (PEM, leaf first) for browsers and API clients, reloaded when it changes; agents keep the hub CA's, which they pin")
	f.StringVar(&tlsKeyFile, "tls-key-file", "", "the private key of --tls-cert-file")
	f.StringSliceVar(&hosts, "tls-san", nil, "names and IPs for the serving certificate (default localhost, 127.0.0.1, ::1, the host name)")
	f.DurationVar(&certTTL, "agent-cert-ttl", 24*time.Hour, "lifetime of agent client certificates (renewed at two thirds)")
	f.DurationVar(&stale, "stale-after", 90*time.Second, "a cluster without contact for this long is stale")
	f.DurationVar(&offline, "offline-after", 10*time.Minute, "a cluster without contact for this long is offline")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	f.IntVar(&maxBundleSends, "max-bundle-sends", 8, "bundle contents sent to agents at once (each is held in memory while sent); more wait, then get 503")
	f.Int64Var(&admissionQuota, "admission-events-per-cluster", hub.DefaultAdmissionEventsPerCluster, "admission events kept per cluster; beyond it the oldest are dropped and counted (0: no quota)")
	f.DurationVar(&admissionRetention, "admission-event-retention", hub.DefaultAdmissionEventRetention, "admission events older than this are deleted (0: kept)")
	f.Int64Var(&scanQuota, "image-scans-per-cluster", hub.DefaultImageScansPerCluster, "image scans kept per cluster; beyond it those of images the cluster does not run go first, then the oldest (0: no quota)")
	f.DurationVar(&profileWindow, "runtime-profile-window", store.DefaultProfileWindow, "learning window of a new workload profile (runtime observations); an admin may set a workload's own (POST /api/v1/runtime/profiles/learn)")
	f.IntVar(&profileQuota, "runtime-profiles-per-cluster", store.DefaultProfilesPerCluster, "learned workload profiles kept per cluster; beyond it workloads are not profiled, and counted (0: no quota)")
	f.DurationVar(&profileRetention, "runtime-profile-retention", hub.DefaultRuntimeProfileRetention, "profiles of workloads not observed for this long are deleted (0: kept)")
	f.Int64Var(&findingsQuota, "findings-per-cluster", store.DefaultIngestLimits().FindingsPerCluster, "findings kept per cluster; a report that would store more is refused (413) and counted, and the agent sends a full snapshot (0: no quota)")
	f.DurationVar(&unusedScanRetention, "unused-image-scan-retention", hub.DefaultUnusedImageScanRetention, "scans of images a cluster no longer runs are deleted after this long (0: kept)")
	f.StringSliceVar(&trustedProxies, "trusted-proxies", nil, "addresses or CIDRs of proxies whose X-Forwarded-For names the client (default: none, the header is ignored)")
	f.IntVar(&clientFailures, "auth-client-failures", hub.DefaultAuthLimits().Client.Free,
		"failed sign-ins per client address before it is locked out (doubling from 30s to 15m); 0 turns the per-address limits off, e.g. behind a load balancer that hides client addresses")
	f.IntVar(&maxIdleConns, "max-idle-connections", 0, "kept-alive connections left open between requests; beyond it the longest idle are closed and agents reconnect for their next request, trading TLS handshakes for memory (about 27 KiB a connection; 0: unbounded)")
	f.StringVar(&debugListen, "debug-listen", "", "serve Go's /debug/pprof/ on this loopback address (e.g. 127.0.0.1:6060), unauthenticated: for profiling a running hub")
	_ = f.MarkHidden("debug-listen")
	return cmd
}

// parsePrefixes reads CIDRs and bare addresses (a /32 or /128).
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q: want an IP address or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func newHubTokenCommand(s *streams, g *globalOptions, open hubOpener) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create bootstrap tokens; create, list and revoke API tokens"}
	var cluster string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a single-use bootstrap token for a cluster's agent",
		Long: `Creates the cluster if needed and prints a single-use bootstrap token (shown
once; the hub stores only its hash) and the hub CA fingerprint to pass to
'palisade agent run'.`,
		Example: `  palisade hub token create --cluster edge-042 --ttl 1h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cluster == "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--cluster is required")}
			}
			h, st, err := open(cmd, hub.Config{})
			if err != nil {
				return err
			}
			defer st.Close()
			tok, c, err := h.CreateBootstrapToken(cmd.Context(), cluster, ttl)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			fmt.Fprintf(s.Out, "cluster:        %s (%s)\ntoken:          %s\nexpires:        %s\nca-fingerprint: %s\n",
				c.Name, c.ID, tok, time.Now().Add(ttl).UTC().Format(time.RFC3339), h.CAFingerprint())
			return nil
		},
	}
	create.Flags().StringVar(&cluster, "cluster", "", "cluster name")
	create.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token may be used (at most 168h)")

	var name, role, expires string
	var apiTTL time.Duration
	api := &cobra.Command{
		Use:   "create-api",
		Short: "Create an API token for automation (Authorization: Bearer)",
		Long: `Prints a new API token (shown once; the hub stores only its hash). Tokens
expire after 90 days unless --expires says otherwise; --expires never makes
one that does not expire. 'palisade hub token list' shows them with their
last use, 'palisade hub token revoke' ends one.`,
		Example: `  palisade hub token create-api --name ci --role viewer --expires 30d`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ttl, err := hub.ParseTokenExpiry(expires)
			if cmd.Flags().Changed("ttl") {
				if cmd.Flags().Changed("expires") {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("give --expires or --ttl, not both")}
				}
				ttl, err = apiTTL, nil
			}
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--expires: %w", err)}
			}
			return hubAction(cmd, open, func(h *hub.Hub) error {
				tok, err := h.CreateAPIToken(cmd.Context(), name, role, ttl)
				if tok != "" {
					fmt.Fprintln(s.Out, tok)
				}
				return err
			})
		},
	}
	api.Flags().StringVar(&name, "name", "automation", "token name")
	api.Flags().StringVar(&role, "role", store.RoleViewer, "viewer or admin")
	api.Flags().StringVar(&expires, "expires", "90d", "lifetime: days (90d), a duration (720h), or never")
	api.Flags().DurationVar(&apiTTL, "ttl", 0, "lifetime as a duration (0: no expiry); use --expires")
	_ = api.Flags().MarkDeprecated("ttl", "use --expires (a duration, days such as 90d, or never)")
	cmd.AddCommand(create, api)
	addTokenAdminCommands(cmd, s, g, open)
	return cmd
}

func newHubUserCommand(s *streams, g *globalOptions, open hubOpener) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage local user accounts: create, list, disable, enable, delete, passwd, role, logout"}
	var name, role string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a local account; the password is read from standard input",
		Example: `  printf '%s\n' "$PASSWORD" | palisade hub user create --name alice --role admin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readSecretLine(s.In)
			if err != nil {
				return err
			}
			return hubAction(cmd, open, func(h *hub.Hub) error {
				if err := h.CreateUser(cmd.Context(), name, pw, role); err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "user %s created with role %s\n", name, role)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "user name")
	create.Flags().StringVar(&role, "role", store.RoleViewer, "viewer or admin")
	cmd.AddCommand(create)
	addUserAdminCommands(cmd, s, g, open)
	return cmd
}
