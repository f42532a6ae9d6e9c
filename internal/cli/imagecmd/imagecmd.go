// Package imagecmd is the image scan command, `palisade scan image` and
// `palisade-scan image`: one constructor, so both binaries have the same
// flags, defaults, help, output, exit codes, progress and cache. What
// needs Sigstore verification (the attestation flags) comes in through
// Attestations, which only the palisade binary links; palisade-scan
// refuses those flags with a pointer to `palisade scan image`.
package imagecmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// ImageFlags choose and reach an image: shared by `scan image`, `sbom`
// and `verify image`.
type ImageFlags struct {
	Platform      string
	Username      string
	PasswordStdin bool
	Insecure      []string
	Timeout       time.Duration
}

// Add adds the flags to cmd.
func (f *ImageFlags) Add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.Platform, "platform", "", "platform to choose from a multi-arch image, e.g. linux/arm64 (default linux and this machine's architecture)")
	fl.StringVar(&f.Username, "username", "", "registry user name (with --password-stdin); default credentials come from the Docker config")
	fl.BoolVar(&f.PasswordStdin, "password-stdin", false, "read the registry password (or token) from standard input")
	fl.StringArrayVar(&f.Insecure, "insecure-registry", nil, "registry host[:port] that may be reached over plain HTTP (repeatable); no other registry ever is")
	fl.DurationVar(&f.Timeout, "registry-timeout", 30*time.Second, "how long to wait to connect to a registry and for each response")
}

// Options turns the flags into image options, reading the password from
// standard input when asked; program names the binary in the registry
// requests' User-Agent.
func (f *ImageFlags) Options(s *cli.Streams, program string) (image.Options, error) {
	opts := image.Options{
		Platform:           f.Platform,
		InsecureRegistries: f.Insecure,
		Timeout:            f.Timeout,
		UserAgent:          program + "/" + buildinfo.Get().Version,
	}
	switch {
	case f.PasswordStdin && f.Username == "":
		return opts, errors.New("--password-stdin needs --username")
	case f.Username != "" && !f.PasswordStdin:
		return opts, errors.New("--username needs --password-stdin (passwords are never taken as arguments)")
	case f.PasswordStdin:
		line, err := bufio.NewReader(io.LimitReader(s.In, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return opts, fmt.Errorf("--password-stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return opts, errors.New("--password-stdin: standard input is empty")
		}
		opts.Username, opts.Password = f.Username, pw
	}
	return opts, nil
}

// ProgressFunc shows the scan's progress on a terminal's stderr.
func ProgressFunc(p *cli.Progress) func(imagescan.Progress) {
	return func(ev imagescan.Progress) {
		switch ev.Stage {
		case "reading":
			msg := fmt.Sprintf("reading layer %d/%d", ev.Layer, ev.Layers)
			if ev.Total > 0 {
				msg += fmt.Sprintf(": %s of %s", cli.ByteSize(ev.Bytes), cli.ByteSize(ev.Total))
			}
			p.Update(msg)
		default:
			p.Update(ev.Stage + "…")
		}
	}
}

// Attestations apply an image's verified attestations to a scan: the
// flags --sbom-attestations and --vex-attestations, given the file of an
// ImageVerificationPolicy. Each returns what to say about what it used or
// refused.
type Attestations interface {
	// AddSBOM makes the packages of the verified CycloneDX or SPDX
	// attestation of ref the packages matched, instead of cataloguing its
	// layers.
	AddSBOM(ctx context.Context, opts *imagescan.Options, policyFile, ref string, allowMissing bool) ([]finding.Problem, error)
	// AddVEX adds the verified OpenVEX attestations of ref to opts.VEX.
	AddVEX(ctx context.Context, opts *imagescan.Options, policyFile, ref string) ([]finding.Problem, error)
}

// Config says which binary the command is built for.
type Config struct {
	// Program is the binary's name, "palisade" or "palisade-scan": help
	// and examples name its commands with it, and registry requests
	// carry it in their User-Agent.
	Program string
	// Path is how the command is called: "palisade scan image" or
	// "palisade-scan image".
	Path string
	// Attestations is nil in a binary that does not link Sigstore
	// verification: --sbom-attestations and --vex-attestations are then
	// refused (exit 2) with a pointer to `palisade scan image`, never
	// ignored.
	Attestations Attestations
}

// withoutAttestations says, in help and errors, why the attestation flags
// are not in this binary.
const withoutAttestations = "Sigstore verification, which this binary does not link: use 'palisade scan image'"

// New returns the image scan command.
func New(s *cli.Streams, g *cli.Global, c Config) *cobra.Command {
	var (
		o             cli.ReportOptions
		img           ImageFlags
		vexFiles      []string
		vexPolicy     string
		sbomPolicy    string
		ignoreUnfixed bool
		ignoreStatus  []string
		allowMissing  bool
		cacheDir      string
		noCache       bool
		maxAge        time.Duration
		scanners      []string
	)
	cmd := &cobra.Command{
		Use:   "image REF",
		Short: "Scan a container image for vulnerable packages and embedded secrets",
		Long: `Scan a container image: list its packages (OS packages, Go binaries, Python,
npm, Java, PHP Composer, Ruby gems, .NET NuGet, Swift and Dart packages), match them
against the vulnerability database, and look for
credentials baked into its files. Layers are streamed, never unpacked to disk.

REF is a registry reference (registry.example.com/app:1.2, app@sha256:…),
oci:DIR (an OCI image layout), docker-archive:FILE (docker save) or
rootfs:DIR (an unpacked root file system).

The vulnerability database lives in the cache directory (--cache-dir, else
$` + vulndb.EnvCacheDir + `, else the user cache directory): create it with
'` + c.Program + ` db update', or on an air-gapped host with '` + c.Program + ` db import'.
See docs/image-scanning.md.

What a walk of an image found (packages, secrets) is cached by the image's
manifest digest under <cache-dir>/inventories (at most 256 MiB, least
recently used evicted first, files readable by the owner only), so a
re-scan of the same image only matches against the current database.
What each layer contributed is cached by layer digest under
<cache-dir>/layers (at most 512 MiB, the same way), so a new image built
on known base layers reads only its own layers. --no-cache walks the
image again and uses neither cache. Root file systems (rootfs:) are never
cached: they have no digest.

A finding's severity comes from the distribution's own rating, else the
advisory's CVSS (4.0, 3.x, 2), else NVD's CVSS of its CVE (import NVD's
feeds with '` + c.Program + ` db update --source nvd-2024 ...'), else GitHub's; the
finding names the source. One that nobody rates (UNKNOWN) fails --fail-on
at every level but none: an unknown risk is not a harmless one. --ignore-unknown-severity lets them
pass; --fail-on unknown fails on any finding at all.

Every vulnerability gets a fix-first priority, P1 (first) to P4, shown
beside its severity: the severity sets it, an EPSS score of 0.1 or more
raises it, no fix available lowers it, and so do vulnerable Go symbols the
binary does not link ("reachable": false, read from the binary's own
symbol table); CISA KEV makes it P1 (P2 when not reachable).
--fail-on-priority P2 (or --fail-on P2) exits 1 on P1 and P2 findings only.

Packages of an ecosystem the database has no advisories of (an Alpine
image and a database of Debian's only, Wolfi, Amazon Linux ...) were not
checked: each such ecosystem is an error naming the packages left
unchecked, and the exit code is 2, unless --allow-missing-data makes them
warnings.

Exit codes: 0 no findings at or above --fail-on (or --fail-on-priority); 1
findings at or above --fail-on, or of unknown severity, or at or above
--fail-on-priority; 2 usage error, the image or the
database could not be read, or packages were left unchecked.` + attestationsHelp(c),
		Example: examples(c),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &cli.ExitError{Code: cli.CodeError, Err: errors.New("scan image needs exactly one image reference")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			// --fail-on also takes a fix-first priority (P1..P4): the
			// same gate as --fail-on-priority, in the flag pipelines
			// already pass. Given both ways it is ambiguous: refused.
			if _, err := finding.ParsePriority(o.FailOn); err == nil {
				if o.FailOnPriority != "" {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--fail-on %s and --fail-on-priority %s: give the priority once", o.FailOn, o.FailOnPriority)}
				}
				o.FailOnPriority, o.FailOn = o.FailOn, "none"
			} else if _, _, err := o.FailThreshold(); err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("%w, or a priority P1..P4", err)}
			}
			if o.FailOnPriority != "" {
				if _, err := finding.ParsePriority(o.FailOnPriority); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--fail-on-priority: %w", err)}
				}
				// The priority gate replaces the severity gate unless
				// --fail-on is given too; then either fails the run.
				if !cmd.Flags().Changed("fail-on") {
					o.FailOn = "none"
				}
			}
			sc, err := imagescan.ParseScanners(scanners)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--scanners: %w", err)}
			}
			if c.Attestations == nil {
				for _, name := range []string{"sbom-attestations", "vex-attestations"} {
					if cmd.Flags().Changed(name) {
						return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--%s needs %s", name, withoutAttestations)}
					}
				}
			}
			iopts, err := img.Options(s, c.Program)
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			for _, st := range ignoreStatus {
				if !slices.Contains(finding.FixStates, st) {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--ignore-status: unknown fix state %q (want %s)", st, strings.Join(finding.FixStates, ", "))}
				}
			}
			opts := imagescan.Options{
				Image:            iopts,
				Scanners:         sc,
				IgnoreUnfixed:    ignoreUnfixed,
				IgnoreStatus:     ignoreStatus,
				AllowMissingData: allowMissing,
				MaxDBAge:         maxAge,
				ToolName:         "palisade",
				ToolVersion:      buildinfo.Get().Version,
				Program:          c.Program,
			}
			if maxAge <= 0 {
				opts.MaxDBAge = -1
			}
			if sc.Vuln || !noCache {
				if opts.CacheDir, err = vulndb.CacheDir(cacheDir, os.Getenv); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: err}
				}
			}
			if !noCache {
				// Inventories by image digest: a re-scan only matches again.
				if opts.Cache, err = imagescan.NewDiskCache(filepath.Join(opts.CacheDir, "inventories"), 0); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: err}
				}
				// What each layer contributed, by layer digest: a new image
				// on known base layers reads only its own.
				if opts.Layers, err = imagescan.NewLayerDiskCache(filepath.Join(opts.CacheDir, "layers"), 0); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: err}
				}
			}
			if len(vexFiles) > 0 {
				if opts.VEX, err = vulnmatch.LoadVEX(vexFiles...); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--vex: %w", err)}
				}
			}
			var attested []finding.Problem
			if sbomPolicy != "" {
				if attested, err = c.Attestations.AddSBOM(cmd.Context(), &opts, sbomPolicy, args[0], allowMissing); err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--sbom-attestations: %w", err)}
				}
			}
			if vexPolicy != "" {
				vexNotes, err := c.Attestations.AddVEX(cmd.Context(), &opts, vexPolicy, args[0])
				if err != nil {
					return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--vex-attestations: %w", err)}
				}
				attested = append(attested, vexNotes...)
			}
			prog := cli.NewProgress(s, g)
			opts.Progress = ProgressFunc(prog)
			res, err := imagescan.Scan(cmd.Context(), args[0], opts)
			prog.Done()
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
			if sc.Vuln && len(res.SBOM.Packages) == 0 {
				nothingChecked(res.Report, args[0], allowMissing)
			}
			res.Report.Problems = append(res.Report.Problems, attested...)
			for _, p := range attested {
				if p.Level == finding.LevelError {
					res.Report.Summary.Errors++
				}
			}
			if format == report.FormatTable && !g.Quiet {
				for _, w := range res.Warnings {
					fmt.Fprintf(s.Err, "warning: %s\n", w)
				}
			}
			return o.WriteReport(s, g, format, res.Report)
		},
	}
	img.Add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity, or of unknown severity: critical, high, medium, low, unknown (any finding), or none; or at or above a fix-first priority: P1, P2, P3, P4 (as --fail-on-priority)")
	f.StringVar(&o.FailOnPriority, "fail-on-priority", "", "exit 1 when a vulnerability's fix-first priority is at or above this: P1, P2, P3 or P4 (replaces --fail-on's severity gate unless --fail-on is given too)")
	f.BoolVar(&o.IgnoreUnknownSeverity, "ignore-unknown-severity", false, "do not let vulnerabilities of unknown severity fail --fail-on (they still appear in the report)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "list findings suppressed by VEX in table output (other formats always include them, marked)")
	o.AddOutputFileFlag(f)
	f.StringArrayVar(&vexFiles, "vex", nil, "OpenVEX document whose not_affected and fixed statements suppress findings (repeatable)")
	f.StringVar(&vexPolicy, "vex-attestations", "", "verification policy (ImageVerificationPolicy): apply the image's OpenVEX attestations that verify for its signers, like --vex"+attestationsFlagNote(c))
	f.StringVar(&sbomPolicy, "sbom-attestations", "", "verification policy (ImageVerificationPolicy): match the packages of the image's CycloneDX or SPDX attestation that verifies for its signers instead of cataloguing its layers; an SBOM attestation that does not verify is an error"+attestationsFlagNote(c))
	f.BoolVar(&ignoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities that have no fixed version yet")
	f.StringSliceVar(&ignoreStatus, "ignore-status", nil, "leave out vulnerabilities in these fix states: "+strings.Join(finding.FixStates, ", "))
	f.BoolVar(&allowMissing, "allow-missing-data", false, "do not exit 2 when the database has no advisories for an ecosystem of the image (its packages stay unchecked; reported as warnings)")
	f.StringVar(&cacheDir, "cache-dir", "", "cache directory holding the vulnerability database (default $"+vulndb.EnvCacheDir+" or the user cache directory)")
	f.BoolVar(&noCache, "no-cache", false, "walk every layer even if the image or its layers are cached, and cache nothing (inventories are kept under <cache-dir>/inventories by image digest, at most 256 MiB; layers under <cache-dir>/layers by layer digest, at most 512 MiB; least recently used first)")
	f.DurationVar(&maxAge, "db-max-age", vulndb.DefaultMaxAge, "warn when the vulnerability database is older than this; 0 disables the warning")
	f.StringSliceVar(&scanners, "scanners", []string{imagescan.ScannerVuln, imagescan.ScannerSecret}, "what to look for: vuln, secret, or both")
	return cmd
}

// examples are the command's examples, called as c.Path.
func examples(c Config) string {
	ex := []string{
		"registry.example.com/app:1.2",
		"--platform linux/arm64 registry.example.com/app:1.2 --fail-on high",
		"oci:./build/oci --vex app.openvex.json --ignore-unfixed -o sarif --output-file image.sarif",
		"debian:12 --ignore-status will_not_fix,end_of_life",
		"registry.example.com/app:1.2 --fail-on-priority P2",
		`echo "$TOKEN" | ` + c.Path + " --username ci --password-stdin registry.internal:5000/app:1",
		"docker-archive:app.tar --scanners secret",
	}
	if c.Attestations != nil {
		ex = append(ex, "--sbom-attestations policy.yaml --vex-attestations policy.yaml registry.example.com/app@sha256:…")
	}
	for i, e := range ex {
		if !strings.HasPrefix(e, "echo ") {
			e = c.Path + " " + e
		}
		ex[i] = "  " + e
	}
	return strings.Join(ex, "\n")
}

// attestationsHelp ends the long help of a binary without attestations.
func attestationsHelp(c Config) string {
	if c.Attestations != nil {
		return ""
	}
	return `

Verified SBOM and VEX attestations (--sbom-attestations,
--vex-attestations) need Sigstore verification, which this binary does
not link: use 'palisade scan image' for them.`
}

// attestationsFlagNote ends the attestation flags' usage in a binary
// without them.
func attestationsFlagNote(c Config) string {
	if c.Attestations != nil {
		return ""
	}
	return " (needs " + withoutAttestations + ")"
}

// nothingChecked records that no package was found in the image, so
// nothing was matched against vulnerabilities: an empty image, or software
// Palisade cannot identify (a static binary without build information).
// "No findings" would be a clean answer about nothing, so it is an error
// (exit 2) unless --allow-missing-data accepts it, like an ecosystem
// without advisories.
func nothingChecked(r *finding.Report, ref string, allowMissing bool) {
	p := finding.Problem{Level: finding.LevelError,
		Message: fmt.Sprintf("image %s: no package found, so nothing was checked for vulnerabilities (an empty image, or software Palisade cannot identify); --allow-missing-data accepts this", ref)}
	if allowMissing {
		p.Level = finding.LevelWarning
	} else {
		r.Summary.Errors++
	}
	r.Problems = append(r.Problems, p)
}
