package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli/imagecmd"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// newScanImageCommand is `palisade scan image`: internal/cli/imagecmd's
// command, the same as `palisade-scan image`, with the attestation flags,
// whose Sigstore verification only this binary links.
func newScanImageCommand(s *streams, g *globalOptions) *cobra.Command {
	return imagecmd.New(s, &g.Global, imagecmd.Config{Program: "palisade", Path: "palisade scan image", Attestations: attestations{g}})
}

// attestations reads an image's verified SBOM and VEX attestations with
// the kubeconfig's credentials for k8s:// keys of the policy.
type attestations struct{ g *globalOptions }

func (a attestations) AddSBOM(ctx context.Context, opts *imagescan.Options, policyFile, ref string, allowMissing bool) ([]finding.Problem, error) {
	return addAttestedSBOM(ctx, a.g, opts, policyFile, ref, allowMissing)
}

func (a attestations) AddVEX(ctx context.Context, opts *imagescan.Options, policyFile, ref string) ([]finding.Problem, error) {
	return addAttestedVEX(ctx, a.g, opts, policyFile, ref)
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
