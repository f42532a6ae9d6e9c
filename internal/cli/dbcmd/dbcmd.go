// Package dbcmd is the vulnerability database's commands, `palisade db`
// and `palisade-scan db`: one constructor, so both binaries have the same
// flags, help and exit codes. It links internal/vulndb only.
package dbcmd

import (
	"bufio"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// dbOptions are the flags of every `palisade db` command.
type dbOptions struct {
	cacheDir string
	// program is the binary's name, "palisade" or "palisade-scan".
	program string
}

func (o *dbOptions) cache() (vulndb.Cache, error) {
	dir, err := vulndb.CacheDir(o.cacheDir, os.Getenv)
	if err != nil {
		return vulndb.Cache{}, &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	return vulndb.Cache{Dir: dir, Program: o.program}, nil
}

// New returns the db command of the binary named program ("palisade" or
// "palisade-scan"): its help and messages name its commands with it.
func New(s *cli.Streams, g *cli.Global, program string) *cobra.Command {
	o := &dbOptions{program: program}
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database used by image scans",
		Long: `Manage the vulnerability database: OSV records from the OSV project's
per-ecosystem exports and the Go vulnerability database, kept in one file
under the cache directory (--cache-dir, else $` + vulndb.EnvCacheDir + `, else the
user cache directory's palisade/).

An update or import builds a complete new database and swaps it in
atomically: a failed download, a corrupt archive or a rejected bundle leaves
the previous database in place. See docs/vulndb.md.`,
	}
	cmd.PersistentFlags().StringVar(&o.cacheDir, "cache-dir", "", "cache directory (default $"+vulndb.EnvCacheDir+" or the user cache directory)")
	cmd.AddCommand(
		newDBUpdateCommand(s, g, o),
		newDBImportCommand(s, g, o),
		newDBExportCommand(s, g, o),
		newDBStatusCommand(s, g, o),
		newDBKeygenCommand(s),
	)
	named(cmd, program)
	return cmd
}

// named makes the help of cmd and its subcommands, written for the
// palisade binary, name program's commands instead.
func named(cmd *cobra.Command, program string) {
	cmd.Long = strings.ReplaceAll(cmd.Long, "palisade db", program+" db")
	cmd.Example = strings.ReplaceAll(cmd.Example, "palisade db", program+" db")
	for _, c := range cmd.Commands() {
		named(c, program)
	}
}

func newDBUpdateCommand(s *cli.Streams, g *cli.Global, o *dbOptions) *cobra.Command {
	var sources []string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV exports and rebuild the database",
		Long: `Download each source with a conditional request (If-None-Match /
If-Modified-Since), verify it (Content-Length, x-goog-hash, a pinned or
published SHA-256, each zip entry's CRC), and swap in a database built from
the new archives and the unchanged ones. If any source fails, the previous
database stays as it was and the exit code is 2.

Sources default to OSV's exports of ` + strings.Join(vulndb.DefaultEcosystems, ", ") + `.
--source takes an ecosystem name (its OSV export) or NAME=URL (a mirror).

Enrichment sources go in the same database (and bundles): nvd-YYYY,
nvd-modified, nvd-recent (NVD's CVE API 2.0 feeds: CVSS scores for CVEs
whose advisories give none), kev (CISA's Known Exploited Vulnerabilities),
epss (FIRST's EPSS scores), debian-tracker (Debian's fix states: no-dsa,
ignored, postponed, end-of-life), ubuntu-tracker (the Ubuntu CVE
Tracker's states: needed, pending, deferred, ignored, DNE, not-affected;
and its priorities per CVE, package and release), redhat-cpe (Red Hat's
repository-to-CPE mapping: qualifies UBI and RHEL images by the content
sets of their content manifests).

Vendor advisories in their own formats: oval-oracle (Oracle Linux ELSA),
oval-azurelinux-3.0 and oval-mariner-2.0 (Microsoft's OVAL), photon-5.0
(Photon OS's CVE metadata), alas-2 and alas-2023 (Amazon Linux's
updateinfo, found through Amazon's mirror list, repodata/repomd.xml and
its SHA-256) by name alone; redhat-vex=URL (Red Hat's CSAF VEX archive:
will not fix, fix deferred, not affected per stream), bodhi=URL (Fedora's
Bodhi updates), alas-2=URL and alas-2023=URL (a mirror list ending in
mirror.list, or the updateinfo.xml file itself). NAME=URL with such a
name is a source of that format.`,
		Example: `  palisade db update
  palisade db update --source Debian --source Go
  palisade db update --source debian=https://mirror.internal/osv/Debian/all.zip
  palisade db update --source Debian --source debian-tracker --source kev --source epss --source nvd-2025 --source nvd-modified`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cache()
			if err != nil {
				return err
			}
			var srcs []vulndb.Source
			for _, spec := range sources {
				src, err := vulndb.ParseSource(spec)
				if err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--source: %w", err)}
				}
				srcs = append(srcs, src)
			}
			res, err := c.Update(cmd.Context(), vulndb.UpdateOptions{Sources: srcs, UserAgent: o.program + "/" + buildinfo.Get().Version})
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			return printDB(s, g, res, func(w io.Writer) {
				for _, r := range res.Sources {
					state := fmt.Sprintf("downloaded %s", cli.ByteSize(r.Downloaded))
					if r.NotModified {
						state = "not modified"
					}
					fmt.Fprintf(w, "%s: %s, %d records", r.Name, state, r.Records)
					if r.CVEs > 0 {
						fmt.Fprintf(w, ", %d CVEs", r.CVEs)
					}
					if r.Skipped > 0 {
						fmt.Fprintf(w, ", %d invalid records skipped", r.Skipped)
					}
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "%d records in %s\n", res.Metadata.Records, c.DBPath())
			})
		},
	}
	cmd.Flags().StringArrayVar(&sources, "source", nil, "source to download: an OSV ecosystem name, an enrichment or vendor source (nvd-YYYY, nvd-modified, kev, epss, debian-tracker, ubuntu-tracker, redhat-cpe, oval-oracle, oval-azurelinux-N, oval-mariner-N, photon-N), or NAME=URL (repeatable)")
	return cmd
}

func newDBImportCommand(s *cli.Streams, g *cli.Global, o *dbOptions) *cobra.Command {
	var publicKeys []string
	var name, format string
	cmd := &cobra.Command{
		Use:   "import FILE|DIR",
		Short: "Import a signed bundle, OSV records, or NVD, KEV, EPSS or Debian tracker data",
		Long: `Import a signed bundle made by 'palisade db export' (verified against
--public-key before anything is replaced), or a directory or zip of OSV JSON
records as the OSV project and the Go vulnerability database publish them
(e.g. an ecosystem's all.zip, or golang.org/x/vulndb's data/osv). A directory
or zip becomes a source of its own (--name, default the file name), replacing
an earlier import of that name; the other sources stay.

--format alas imports Amazon Linux's advisories from a yum updateinfo.xml
(plain or gzip; --name alas-2 or alas-2023 says which release). Other
formats import CVE enrichment (plain, gzip or zip files, or a directory of
them): nvd (NVD's CVE API 2.0 JSON feeds: CVSS scores of CVEs
whose advisories give none), kev (CISA's Known Exploited Vulnerabilities
JSON), epss (FIRST's EPSS CSV), debian-tracker (the Debian Security
Tracker's JSON: no-dsa, ignored, postponed, end-of-life), ubuntu-tracker
(the Ubuntu CVE Tracker's files), redhat-cpe (Red Hat's
repository-to-cpe.json). Vendor advisory formats (a file, a
directory, or a zip, tar, tar.gz or tar.zst of documents): redhat-vex (Red
Hat's CSAF VEX), oval (--name oval-oracle, oval-azurelinux-N or
oval-mariner-N), photon (--name photon-N), bodhi (Fedora). A --name of
nvd, nvd-*, kev, epss, debian-tracker, ubuntu-tracker, redhat-vex,
redhat-cpe, oval-*, photon-*, bodhi or alas-* implies the format.`,
		Example: `  palisade db import vulndb-bundle.tar.gz --public-key palisade-db.pub
  palisade db import ./all.zip --name Debian
  palisade db import ./vulndb/data/osv --name go-vulndb
  palisade db import ./nvd-feeds/ --name nvd
  palisade db import known_exploited_vulnerabilities.json --format kev`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("db import needs exactly one FILE or DIR")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cache()
			if err != nil {
				return err
			}
			if format == "" && name != "" {
				format = vulndb.FormatOf(name)
			}
			if !vulndb.ValidFormat(format) {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--format: unknown format %q (want one of %s)", format, strings.Join(vulndb.Formats, ", "))}
			}
			kind := format
			if format == "" || format == vulndb.FormatOSV {
				if kind, err = importKind(args[0]); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: err}
				}
			}
			if kind != "bundle" {
				res, err := c.Import(cmd.Context(), args[0], name, format, time.Now())
				if err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: err}
				}
				return printDB(s, g, res, func(w io.Writer) {
					what := fmt.Sprintf("%d records", res.Source.Records)
					if res.Source.CVEs > 0 {
						what = fmt.Sprintf("%d CVEs", res.Source.CVEs)
					}
					if res.Source.Repositories > 0 {
						what = fmt.Sprintf("%d content sets", res.Source.Repositories)
					}
					fmt.Fprintf(w, "imported %s from %s as source %q", what, args[0], res.Source.Name)
					if res.Source.Skipped > 0 {
						fmt.Fprintf(w, " (%d invalid records skipped)", res.Source.Skipped)
					}
					fmt.Fprintf(w, "; %d records in %s\n", res.Metadata.Records, c.DBPath())
					for _, e := range res.Errors {
						if !g.Quiet {
							fmt.Fprintf(s.Err, "warning: skipped %s\n", e)
						}
					}
				})
			}
			if len(publicKeys) == 0 {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("importing a signed bundle needs --public-key")}
			}
			keys, err := vulndb.ReadPublicKeys(publicKeys)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--public-key: %w", err)}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			defer f.Close()
			m, err := c.ImportBundle(cmd.Context(), bufio.NewReader(f), keys)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("%s: %w", args[0], err)}
			}
			return printDB(s, g, m, func(w io.Writer) {
				fmt.Fprintf(w, "imported signed bundle of %s (%d records, data as of %s) into %s\n",
					m.Created.Format(time.RFC3339), m.Metadata.Records, m.Metadata.Updated.Format(time.RFC3339), c.DBPath())
			})
		},
	}
	cmd.Flags().StringArrayVar(&publicKeys, "public-key", nil, "trusted ed25519 public key (PEM) for signed bundles (repeatable)")
	cmd.Flags().StringVar(&name, "name", "", "source name for a directory or zip of OSV records (default its file name)")
	cmd.Flags().StringVar(&format, "format", "", "format of FILE|DIR when it is not a bundle: "+strings.Join(vulndb.Formats, ", ")+" (default: implied by --name, else osv)")
	return cmd
}

// importKind tells a signed bundle (gzip) from a zip or directory of OSV
// records.
func importKind(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "dir", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return "bundle", nil
	case n == 4 && string(magic[:]) == "PK\x03\x04", n == 4 && string(magic[:]) == "PK\x05\x06":
		return "zip", nil
	}
	return "", fmt.Errorf("%s is neither a signed bundle (.tar.gz) nor a zip or directory of OSV records", path)
}

func newDBExportCommand(s *cli.Streams, g *cli.Global, o *dbOptions) *cobra.Command {
	var privateKey string
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Write the database as one signed bundle for air-gapped and edge hosts",
		Long: `Write the database as a signed bundle (a tar.gz of the database file and
a manifest with its SHA-256, signed with ed25519). Hosts import it with
'palisade db import FILE --public-key KEY.pub'. Create a key pair with
'palisade db keygen' or 'openssl genpkey -algorithm ed25519'.`,
		Example: `  palisade db export vulndb-bundle.tar.gz --private-key palisade-db.key`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("db export needs exactly one FILE")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cache()
			if err != nil {
				return err
			}
			if privateKey == "" {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("db export needs --private-key")}
			}
			data, err := os.ReadFile(privateKey)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--private-key: %w", err)}
			}
			key, err := vulndb.ParsePrivateKey(data)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--private-key %s: %w", privateKey, err)}
			}
			m, err := writeFileAtomic(args[0], func(w io.Writer) (*vulndb.BundleManifest, error) {
				return c.Export(cmd.Context(), w, key, time.Now())
			})
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			return printDB(s, g, m, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s: %d records, database SHA-256 %s, signed by key %s\n",
					args[0], m.Metadata.Records, m.DBSHA256, vulndb.KeyID(key.Public().(ed25519.PublicKey)))
			})
		},
	}
	cmd.Flags().StringVar(&privateKey, "private-key", "", "ed25519 private key (PKCS #8 PEM) to sign the bundle with")
	return cmd
}

// writeFileAtomic writes a file through a temporary file and a rename, so
// an interrupted export leaves no half bundle under the final name.
func writeFileAtomic[T any](path string, write func(io.Writer) (T, error)) (T, error) {
	var zero T
	tmp, err := os.CreateTemp(dirOf(path), ".palisade-export-*")
	if err != nil {
		return zero, err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	v, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return zero, fmt.Errorf("write %s: %w", path, err)
	}
	return v, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func newDBStatusCommand(s *cli.Streams, g *cli.Global, o *dbOptions) *cobra.Command {
	var maxAge time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's sources, record counts and age",
		Long: `Show where the database is, its sources, its record counts per ecosystem
and its age (since every source was last found current).

Exit codes: 0 the database exists and is younger than --max-age; 1 it is
missing or older; 2 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cache()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), time.Now(), maxAge)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			if err := printDB(s, g, st, func(w io.Writer) { writeStatusTable(w, st, o.program) }); err != nil {
				return err
			}
			if !st.Exists || st.Stale {
				return &cli.ExitError{Code: cli.CodeFindings}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&maxAge, "max-age", vulndb.DefaultMaxAge, "age after which the database counts as stale")
	return cmd
}

func writeStatusTable(w io.Writer, st *vulndb.Status, program string) {
	if !st.Exists {
		fmt.Fprintf(w, "No vulnerability database at %s.\nRun '%s db update', or '%[2]s db import' a bundle or OSV records.\n", st.Path, program)
		return
	}
	fresh := "fresh"
	if st.Stale {
		fresh = fmt.Sprintf("STALE (older than %s): run '%s db update'", st.MaxAge, program)
	}
	fmt.Fprintf(w, "Database: %s\nBuilt:    %s\nUpdated:  %s (%s ago, %s)\nRecords:  %d\n\n",
		st.Path, st.Built.Format(time.RFC3339), st.Updated.Format(time.RFC3339), st.AgeText, fresh, st.Records)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS")
	ecos := make([]string, 0, len(st.Ecosystems))
	for e := range st.Ecosystems {
		ecos = append(ecos, e)
	}
	sort.Strings(ecos)
	for _, e := range ecos {
		fmt.Fprintf(tw, "%s\t%d\n", e, st.Ecosystems[e])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tFORMAT\tRECORDS\tCVES\tCHECKED\tLOCATION")
	for _, src := range st.Sources {
		format := src.Format
		if format == "" {
			format = vulndb.FormatOSV
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", src.Name, src.Kind, format, src.Records, src.CVEs, src.Checked.Format(time.RFC3339), src.Location)
	}
	tw.Flush()
}

func newDBKeygenCommand(s *cli.Streams) *cobra.Command {
	var privPath, pubPath string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an ed25519 key pair for signing database bundles",
		Long: `Create an ed25519 key pair for 'palisade db export' and 'palisade db import':
the private key as PKCS #8 PEM (mode 0600), the public key as PKIX PEM. The
same files can be made with
  openssl genpkey -algorithm ed25519 -out palisade-db.key
  openssl pkey -in palisade-db.key -pubout -out palisade-db.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if privPath == "" || pubPath == "" {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("db keygen needs --private-key and --public-key")}
			}
			priv, pub, err := vulndb.GenerateKey()
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			// O_EXCL: never overwrite an existing signing key.
			f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			_, err = f.Write(priv)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.WriteFile(pubPath, pub, 0o644)
			}
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			k, _ := vulndb.ParsePublicKey(pub)
			fmt.Fprintf(s.Out, "wrote %s and %s (key ID %s)\n", privPath, pubPath, vulndb.KeyID(k))
			return nil
		},
	}
	cmd.Flags().StringVar(&privPath, "private-key", "", "file to write the private key to (must not exist)")
	cmd.Flags().StringVar(&pubPath, "public-key", "", "file to write the public key to")
	return cmd
}

// printDB writes v as JSON or YAML for -o json|yaml, else runs table.
func printDB(s *cli.Streams, g *cli.Global, v any, table func(io.Writer)) error {
	switch g.Output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return &cli.ExitError{Code: cli.CodeError, Err: err}
		}
		fmt.Fprintln(s.Out, string(b))
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return &cli.ExitError{Code: cli.CodeError, Err: err}
		}
		fmt.Fprint(s.Out, string(b))
	case "table", "":
		table(s.Out)
	default:
		return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("db commands support -o table, json or yaml, not %q", g.Output)}
	}
	return nil
}
