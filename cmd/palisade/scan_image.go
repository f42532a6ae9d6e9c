package main

import (
	"bufio"
	"bytes"
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

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// imageFlags choose and reach an image: shared by `scan image` and `sbom`.
type imageFlags struct {
	platform      string
	username      string
	passwordStdin bool
	insecure      []string
	timeout       time.Duration
}

func (f *imageFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "platform to choose from a multi-arch image, e.g. linux/arm64 (default linux and this machine's architecture)")
	fl.StringVar(&f.username, "username", "", "registry user name (with --password-stdin); default credentials come from the Docker config")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the registry password (or token) from standard input")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry host[:port] that may be reached over plain HTTP (repeatable); no other registry ever is")
	fl.DurationVar(&f.timeout, "registry-timeout", 30*time.Second, "how long to wait to connect to a registry and for each response")
}

// options turns the flags into image options, reading the password from
// standard input when asked.
func (f *imageFlags) options(s *streams) (image.Options, error) {
	opts := image.Options{
		Platform:           f.platform,
		InsecureRegistries: f.insecure,
		Timeout:            f.timeout,
		UserAgent:          "palisade/" + buildinfo.Get().Version,
	}
	switch {
	case f.passwordStdin && f.username == "":
		return opts, errors.New("--password-stdin needs --username")
	case f.username != "" && !f.passwordStdin:
		return opts, errors.New("--username needs --password-stdin (passwords are never taken as arguments)")
	case f.passwordStdin:
		line, err := bufio.NewReader(io.LimitReader(s.in, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return opts, fmt.Errorf("--password-stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return opts, errors.New("--password-stdin: standard input is empty")
		}
		opts.Username, opts.Password = f.username, pw
	}
	return opts, nil
}

// progressFunc shows the scan's progress on a terminal's stderr.
func progressFunc(p *progress) func(imagescan.Progress) {
	return func(ev imagescan.Progress) {
		switch ev.Stage {
		case "reading":
			msg := fmt.Sprintf("reading layer %d/%d", ev.Layer, ev.Layers)
			if ev.Total > 0 {
				msg += fmt.Sprintf(": %s of %s", byteSize(ev.Bytes), byteSize(ev.Total))
			}
			p.update(msg)
		default:
			p.update(ev.Stage + "…")
		}
	}
}

func newScanImageCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		o             scanOptions
		img           imageFlags
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
'palisade db update', or on an air-gapped host with 'palisade db import'.
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
feeds with 'palisade db update --source nvd-2024 ...'), else GitHub's; the
finding names the source. One that nobody rates (UNKNOWN) fails --fail-on
at every level but none: an unknown risk is not a harmless one. --ignore-unknown-severity lets them
pass; --fail-on unknown fails on any finding at all.

Every vulnerability gets a fix-first priority, P1 (first) to P4, shown
beside its severity: the severity sets it, an EPSS score of 0.1 or more
raises it, no fix available lowers it, and so do vulnerable Go symbols the
binary does not link ("reachable": false, read from the binary's own
symbol table); CISA KEV makes it P1 (P2 when not reachable).
--fail-on-priority P2 exits 1 on P1 and P2 findings only.

Packages of an ecosystem the database has no advisories of (an Alpine
image and a database of Debian's only, Wolfi, Amazon Linux ...) were not
checked: each such ecosystem is an error naming the packages left
unchecked, and the exit code is 2, unless --allow-missing-data makes them
warnings.

Exit codes: 0 no findings at or above --fail-on (or --fail-on-priority); 1
findings at or above --fail-on, or of unknown severity, or at or above
--fail-on-priority; 2 usage error, the image or the
database could not be read, or packages were left unchecked.`,
		Example: `  palisade scan image registry.example.com/app:1.2
  palisade scan image --platform linux/arm64 registry.example.com/app:1.2 --fail-on high
  palisade scan image oci:./build/oci --vex app.openvex.json --ignore-unfixed -o sarif --output-file image.sarif
  palisade scan image debian:12 --ignore-status will_not_fix,end_of_life
  palisade scan image registry.example.com/app:1.2 --fail-on-priority P2
  echo "$TOKEN" | palisade scan image --username ci --password-stdin registry.internal:5000/app:1
  palisade scan image docker-archive:app.tar --scanners secret
  palisade scan image --sbom-attestations policy.yaml --vex-attestations policy.yaml registry.example.com/app@sha256:…`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &exitCodeError{code: exitError, err: errors.New("scan image needs exactly one image reference")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.output)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if _, _, err := o.failThreshold(); err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if o.failOnPriority != "" {
				if _, err := finding.ParsePriority(o.failOnPriority); err != nil {
					return &exitCodeError{code: exitError, err: fmt.Errorf("--fail-on-priority: %w", err)}
				}
				// The priority gate replaces the severity gate unless
				// --fail-on is given too; then either fails the run.
				if !cmd.Flags().Changed("fail-on") {
					o.failOn = "none"
				}
			}
			sc, err := imagescan.ParseScanners(scanners)
			if err != nil {
				return &exitCodeError{code: exitError, err: fmt.Errorf("--scanners: %w", err)}
			}
			iopts, err := img.options(s)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			for _, st := range ignoreStatus {
				if !slices.Contains(finding.FixStates, st) {
					return &exitCodeError{code: exitError, err: fmt.Errorf("--ignore-status: unknown fix state %q (want %s)", st, strings.Join(finding.FixStates, ", "))}
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
			}
			if maxAge <= 0 {
				opts.MaxDBAge = -1
			}
			if sc.Vuln || !noCache {
				if opts.CacheDir, err = vulndb.CacheDir(cacheDir, os.Getenv); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			}
			if !noCache {
				// Inventories by image digest: a re-scan only matches again.
				if opts.Cache, err = imagescan.NewDiskCache(filepath.Join(opts.CacheDir, "inventories"), 0); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
				// What each layer contributed, by layer digest: a new image
				// on known base layers reads only its own.
				if opts.Layers, err = imagescan.NewLayerDiskCache(filepath.Join(opts.CacheDir, "layers"), 0); err != nil {
					return &exitCodeError{code: exitError, err: err}
				}
			}
			if len(vexFiles) > 0 {
				if opts.VEX, err = vulnmatch.LoadVEX(vexFiles...); err != nil {
					return &exitCodeError{code: exitError, err: fmt.Errorf("--vex: %w", err)}
				}
			}
			var attested []finding.Problem
			if sbomPolicy != "" {
				if attested, err = addAttestedSBOM(cmd.Context(), g, &opts, sbomPolicy, args[0], allowMissing); err != nil {
					return &exitCodeError{code: exitError, err: fmt.Errorf("--sbom-attestations: %w", err)}
				}
			}
			if vexPolicy != "" {
				vexNotes, err := addAttestedVEX(cmd.Context(), g, &opts, vexPolicy, args[0])
				if err != nil {
					return &exitCodeError{code: exitError, err: fmt.Errorf("--vex-attestations: %w", err)}
				}
				attested = append(attested, vexNotes...)
			}
			prog := newProgress(s, g)
			opts.Progress = progressFunc(prog)
			res, err := imagescan.Scan(cmd.Context(), args[0], opts)
			prog.done()
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
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
			if format == report.FormatTable && !g.quiet {
				for _, w := range res.Warnings {
					fmt.Fprintf(s.err, "warning: %s\n", w)
				}
			}
			return o.writeReport(s, g, format, res.Report)
		},
	}
	img.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a finding is at or above this severity, or of unknown severity: critical, high, medium, low, unknown (any finding), or none")
	f.StringVar(&o.failOnPriority, "fail-on-priority", "", "exit 1 when a vulnerability's fix-first priority is at or above this: P1, P2, P3 or P4 (replaces --fail-on's severity gate unless --fail-on is given too)")
	f.BoolVar(&o.ignoreUnknownSeverity, "ignore-unknown-severity", false, "do not let vulnerabilities of unknown severity fail --fail-on (they still appear in the report)")
	f.BoolVar(&o.showSuppressed, "show-suppressed", false, "list findings suppressed by VEX in table output (other formats always include them, marked)")
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of standard output")
	f.StringArrayVar(&vexFiles, "vex", nil, "OpenVEX document whose not_affected and fixed statements suppress findings (repeatable)")
	f.StringVar(&vexPolicy, "vex-attestations", "", "verification policy (ImageVerificationPolicy): apply the image's OpenVEX attestations that verify for its signers, like --vex")
	f.StringVar(&sbomPolicy, "sbom-attestations", "", "verification policy (ImageVerificationPolicy): match the packages of the image's CycloneDX or SPDX attestation that verifies for its signers instead of cataloguing its layers; an SBOM attestation that does not verify is an error")
	f.BoolVar(&ignoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities that have no fixed version yet")
	f.StringSliceVar(&ignoreStatus, "ignore-status", nil, "leave out vulnerabilities in these fix states: "+strings.Join(finding.FixStates, ", "))
	f.BoolVar(&allowMissing, "allow-missing-data", false, "do not exit 2 when the database has no advisories for an ecosystem of the image (its packages stay unchecked; reported as warnings)")
	f.StringVar(&cacheDir, "cache-dir", "", "cache directory holding the vulnerability database (default $"+vulndb.EnvCacheDir+" or the user cache directory)")
	f.BoolVar(&noCache, "no-cache", false, "walk every layer even if the image or its layers are cached, and cache nothing (inventories are kept under <cache-dir>/inventories by image digest, at most 256 MiB; layers under <cache-dir>/layers by layer digest, at most 512 MiB; least recently used first)")
	f.DurationVar(&maxAge, "db-max-age", vulndb.DefaultMaxAge, "warn when the vulnerability database is older than this; 0 disables the warning")
	f.StringSliceVar(&scanners, "scanners", []string{imagescan.ScannerVuln, imagescan.ScannerSecret}, "what to look for: vuln, secret, or both")
	return cmd
}

// newAdmissionScanner is the vulnerability gate of `palisade admission
// serve`: images are scanned for vulnerabilities by digest, with the
// database of the cache directory (opened per scan, so `palisade db
// update` takes effect at once) and inventories cached by digest.
func newAdmissionScanner(cacheDir string) (admission.ImageScanner, func(finding.Finding) bool, error) {
	dir, err := vulndb.CacheDir(cacheDir, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	sc := imagescan.NewScanner(imagescan.Options{
		CacheDir:    dir,
		Scanners:    imagescan.Scanners{Vuln: true},
		Image:       image.Options{UserAgent: "palisade-admission/" + buildinfo.Get().Version},
		ToolName:    "palisade",
		ToolVersion: buildinfo.Get().Version,
	})
	return sc, imagescan.Fixable, nil
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

// addAttestedVEX adds to opts the OpenVEX attestations attached to the
// registry image ref that verify for the signers of the policy's rule for
// it, and returns what to say about them: a note per document applied, a
// warning per attestation that did not verify (never applied), and a
// warning when none did.
func addAttestedVEX(ctx context.Context, g *globalOptions, opts *imagescan.Options, policyFile, ref string) ([]finding.Problem, error) {
	p, err := supplychain.LoadPolicy(ctx, policyFile, kubeSecrets{g})
	if err != nil {
		return nil, err
	}
	r, ropts, err := image.RemoteOptions(ctx, ref, opts.Image)
	if err != nil {
		return nil, fmt.Errorf("%s: attestations are read from a registry image: %w", ref, err)
	}
	preds, misses, _, err := p.AttestedPredicates(ctx, ref, []string{"openvex"}, r, ropts...)
	if err != nil {
		return nil, err
	}
	if opts.VEX == nil {
		opts.VEX = &vulnmatch.VEX{}
	}
	var out []finding.Problem
	for _, pr := range preds {
		src := "attestation " + pr.Source + " signed by " + pr.Signer
		if err := opts.VEX.Add(src, bytes.NewReader(pr.Predicate)); err != nil {
			return nil, err
		}
		out = append(out, finding.Problem{File: ref, Level: finding.LevelNote, Message: "OpenVEX applied from " + src})
	}
	for _, m := range misses {
		out = append(out, finding.Problem{File: ref, Level: finding.LevelWarning, Message: "OpenVEX attestation not used (did not verify): " + m})
	}
	if len(preds) == 0 {
		out = append(out, finding.Problem{File: ref, Level: finding.LevelWarning, Message: "no OpenVEX attestation verified for the policy's signers: no finding is suppressed by attestations"})
	}
	return out, nil
}

// maxListed bounds the names one problem lists.
const maxListed = 10

// addAttestedSBOM makes the packages of the CycloneDX or SPDX attestation
// attached to the registry image ref that verifies for the signers of the
// policy's rule for it (a cyclonedx or spdxjson attestation requirement's
// own signers and conditions if the rule has one) the packages matched,
// instead of cataloguing the layers, and returns what to say: a note
// naming the SBOM used and its signer, or a warning that the layers were
// catalogued because none is attached; an error for every SBOM attestation
// that did not verify (never used, never ignored silently), and for
// components of the SBOM that name no package Palisade can check (a
// warning with --allow-missing-data, like an ecosystem without advisories).
func addAttestedSBOM(ctx context.Context, g *globalOptions, opts *imagescan.Options, policyFile, ref string, allowMissing bool) ([]finding.Problem, error) {
	p, err := supplychain.LoadPolicy(ctx, policyFile, kubeSecrets{g})
	if err != nil {
		return nil, err
	}
	r, ropts, err := image.RemoteOptions(ctx, ref, opts.Image)
	if err != nil {
		return nil, fmt.Errorf("%s: attestations are read from a registry image: %w", ref, err)
	}
	preds, misses, digest, err := p.AttestedPredicates(ctx, ref, []string{"cyclonedx", "spdxjson"}, r, ropts...)
	if err != nil {
		return nil, err
	}
	var out []finding.Problem
	for _, m := range misses {
		out = append(out, finding.Problem{File: ref, Level: finding.LevelError, Message: "SBOM attestation did not verify, not used: " + m})
	}
	for i, pr := range preds {
		src := fmt.Sprintf("attestation %s (%s) signed by %s", pr.Source, pr.Type, pr.Signer)
		if i > 0 {
			out = append(out, finding.Problem{File: ref, Level: finding.LevelNote, Message: "SBOM " + src + " verified too; only the first is used"})
			continue
		}
		doc, err := sbom.ReadDocument(pr.Predicate)
		if err != nil {
			out = append(out, finding.Problem{File: ref, Level: finding.LevelError, Message: fmt.Sprintf("SBOM %s verified but cannot be read: %v; the layers were catalogued instead", src, err)})
			return out, nil
		}
		opts.Packages = &imagescan.SuppliedPackages{OS: doc.OS, Packages: doc.Packages}
		out = append(out, finding.Problem{File: ref, Level: finding.LevelNote,
			Message: fmt.Sprintf("packages from the attested SBOM (%s, %d packages) of %s: %s; the layers were not catalogued", doc.Format, len(doc.Packages), digest, src)})
		if n := len(doc.Unidentified); n > 0 {
			listed := doc.Unidentified[:min(n, maxListed)]
			level := finding.LevelError
			if allowMissing {
				level = finding.LevelWarning
			}
			out = append(out, finding.Problem{File: ref, Level: level,
				Message: fmt.Sprintf("%d components of the attested SBOM name no package Palisade can check, so they were not checked: %s", n, strings.Join(listed, "; "))})
		}
	}
	if len(preds) == 0 {
		why := "no CycloneDX or SPDX attestation is attached"
		if len(misses) > 0 {
			why = "no SBOM attestation verified for the policy's signers"
		}
		out = append(out, finding.Problem{File: ref, Level: finding.LevelWarning, Message: fmt.Sprintf("packages catalogued from the image's layers: %s to %s", why, digest)})
	}
	return out, nil
}
