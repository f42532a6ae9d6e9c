package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli/imagecmd"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

func newVerifyCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify Sigstore signatures and attestations of container images",
	}
	cmd.AddCommand(newVerifyImageCommand(s, g))
	return cmd
}

// verifyFlags are the one-off signer and requirement flags of verify image.
type verifyFlags struct {
	policy         string
	keys           []string
	identity       string
	identityRegexp string
	issuer         string
	issuerRegexp   string
	trustedRoot    string
	attTypes       []string
	conditions     []string
}

// rule builds a one-off rule from the flags.
func (f *verifyFlags) rule(cmd *cobra.Command, haveRoot bool, secrets supplychain.SecretReader) ([]supplychain.Rule, error) {
	var signers []supplychain.SignerSpec
	for _, k := range f.keys {
		signers = append(signers, supplychain.SignerSpec{Key: k})
	}
	if f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != "" {
		signers = append(signers, supplychain.SignerSpec{Keyless: &supplychain.Identity{
			Subject: f.identity, SubjectRegexp: f.identityRegexp, Issuer: f.issuer, IssuerRegexp: f.issuerRegexp,
		}})
	}
	if len(signers) == 0 {
		return nil, errors.New("give --policy, or signers: --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]")
	}
	if len(f.conditions) > 0 && len(f.attTypes) == 0 {
		return nil, errors.New("--condition needs --attestation-type")
	}
	spec := supplychain.RuleSpec{Name: "command line", Images: []string{"*"}}
	if len(f.attTypes) == 0 {
		spec.Signers = signers
	}
	for _, t := range f.attTypes {
		spec.Attestations = append(spec.Attestations, supplychain.AttestationSpec{Type: t, Signers: signers, Conditions: f.conditions})
	}
	// Key paths on the command line are relative to the working directory.
	return supplychain.CompileRules(cmd.Context(), []supplychain.RuleSpec{spec}, ".", secrets, haveRoot)
}

// kubeSecrets reads k8s:// keys with the kubeconfig's credentials,
// connecting only when such a key is named.
type kubeSecrets struct{ g *globalOptions }

func (k kubeSecrets) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	c, err := liveClient(k.g)
	if err != nil {
		return nil, err
	}
	return admission.KubeSecrets{Client: c}.SecretData(ctx, namespace, name)
}

func newVerifyImageCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		o   scanOptions
		img imagecmd.ImageFlags
		vf  verifyFlags
	)
	cmd := &cobra.Command{
		Use:   "image REF...",
		Short: "Verify the signatures and attestations attached to container images, offline",
		Long: `Verify the Sigstore evidence attached to images in a registry: cosign
signatures and in-toto attestations (SLSA provenance, CycloneDX and SPDX
SBOMs, OpenVEX, vulnerability scans), keyed or keyless, found under the
legacy sha256-<hex>.sig and .att tags and as OCI 1.1 referrers (through the
referrers API or its sha256-<hex> tag fallback).

Verification is offline: keyless signatures are checked against a trusted
root file (trusted_root.json: the Fulcio roots, Rekor and CT log keys and
timestamp authorities), using the log entries and timestamps inside the
evidence; no Rekor, Fulcio or TUF server is contacted.

Requirements come from a policy file (--policy, kind ImageVerificationPolicy:
per-image rules with signers, required attestations and CEL conditions; see
docs/supply-chain.md) or from one-off flags: --key and/or
--certificate-identity with --certificate-oidc-issuer require a signature;
with --attestation-type they require attestations of those types instead,
each satisfying every --condition.

Exit codes: 0 every image verified; 1 a requirement failed (a finding per
failed requirement, saying which rule and which evidence); 2 usage error,
an unreadable policy or registry, no rule for an image, or nothing
attached to verify.`,
		Example: `  palisade verify image --key cosign.pub registry.example.com/app:1.2
  palisade verify image --trusted-root trusted_root.json \
    --certificate-identity-regexp '^https://github.com/acme/shop/\.github/workflows/release\.yml@refs/tags/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com ghcr.io/acme/shop:1.2
  palisade verify image --key cosign.pub --attestation-type slsaprovenance1 \
    --condition 'predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"' app@sha256:…
  palisade verify image --policy verify-policy.yaml -o sarif --output-file verify.sarif app:1.2 worker:1.2`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitCodeError{Code: exitError, Err: errors.New("verify image needs at least one image reference")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			usage := func(err error) error { return &exitCodeError{Code: exitError, Err: err} }
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return usage(err)
			}
			ctx := cmd.Context()
			v := &supplychain.Verifier{}
			var rules []supplychain.Rule
			switch {
			case vf.policy != "":
				if len(vf.keys) > 0 || vf.identity != "" || vf.identityRegexp != "" || len(vf.attTypes) > 0 {
					return usage(errors.New("--policy and one-off signer or attestation flags exclude each other"))
				}
				p, err := supplychain.LoadPolicy(ctx, vf.policy, kubeSecrets{g})
				if err != nil {
					return usage(err)
				}
				rules, v.Root = p.Rules, p.Root
				if vf.trustedRoot != "" {
					if v.Root, err = supplychain.LoadTrustedRoot(vf.trustedRoot); err != nil {
						return usage(err)
					}
				}
			default:
				if vf.trustedRoot != "" {
					if v.Root, err = supplychain.LoadTrustedRoot(vf.trustedRoot); err != nil {
						return usage(err)
					}
				}
				if rules, err = vf.rule(cmd, v.Root != nil, kubeSecrets{g}); err != nil {
					return usage(err)
				}
			}
			iopts, err := img.Options(s, "palisade")
			if err != nil {
				return usage(err)
			}
			if v.Root != nil && !g.Quiet && format == report.FormatTable {
				fmt.Fprintf(s.Err, "note: trusted root %s written %s ago\n", v.Root.Path, v.Root.Age(time.Now()).Round(time.Minute))
			}
			var outcomes []supplychain.Outcome
			for _, ref := range args {
				outcomes = append(outcomes, verifyOne(cmd, v, rules, ref, img, iopts.Username, iopts.Password))
			}
			o.FailOn = "low"
			return o.writeReport(s, g, format, supplychain.Report(outcomes))
		},
	}
	img.Add(cmd)
	f := cmd.Flags()
	// Verification is of the digest the reference names (an index or a
	// manifest), as cosign signs it: no platform is chosen.
	_ = f.MarkHidden("platform")
	f.StringVar(&vf.policy, "policy", "", "verification policy file (kind ImageVerificationPolicy; see docs/supply-chain.md)")
	f.StringArrayVar(&vf.keys, "key", nil, "trusted public key: PEM file (ECDSA, Ed25519, RSA) or k8s://namespace/secret; KMS URIs need the key exported first (repeatable)")
	f.StringVar(&vf.identity, "certificate-identity", "", "keyless: the signer's identity exactly (the certificate's SAN: an e-mail or a workflow URI)")
	f.StringVar(&vf.identityRegexp, "certificate-identity-regexp", "", "keyless: a regular expression the signer's identity must match")
	f.StringVar(&vf.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer exactly (https://token.actions.githubusercontent.com, https://gitlab.com, ...)")
	f.StringVar(&vf.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the OIDC issuer must match")
	f.StringVar(&vf.trustedRoot, "trusted-root", "", "trusted_root.json for keyless signatures, log entries and timestamps (overrides the policy's)")
	f.StringArrayVar(&vf.attTypes, "attestation-type", nil, "require an attestation of this predicate type (URI, or slsaprovenance1, cyclonedx, spdxjson, openvex, vuln, custom; repeatable)")
	f.StringArrayVar(&vf.conditions, "condition", nil, "CEL condition every --attestation-type must satisfy, over predicate, predicateType, subject and statement (repeatable)")
	f.StringVar(&o.OutputFile, "output-file", "", "write the report to this file instead of standard output")
	return cmd
}

// verifyOne verifies one reference against the first rule that matches it.
func verifyOne(cmd *cobra.Command, v *supplychain.Verifier, rules []supplychain.Rule, ref string, img imagecmd.ImageFlags, user, password string) supplychain.Outcome {
	out := supplychain.Outcome{Image: ref}
	r := supplychain.MatchRule(rules, ref)
	if r == nil {
		out.Err = fmt.Errorf("no verifyImages rule of the policy matches %s: nothing says what to require", ref)
		return out
	}
	var nopts []name.Option
	insecure := map[string]bool{}
	for _, h := range img.Insecure {
		insecure[h] = true
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		out.Err = err
		return out
	}
	if insecure[parsed.Context().RegistryStr()] {
		nopts = append(nopts, name.Insecure)
		if parsed, err = name.ParseReference(ref, nopts...); err != nil {
			out.Err = err
			return out
		}
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: img.Timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = img.Timeout
	t.ResponseHeaderTimeout = img.Timeout
	ropts := []remote.Option{remote.WithTransport(t), remote.WithUserAgent("palisade/" + buildinfo.Get().Version)}
	if user != "" {
		ropts = append(ropts, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	d, err := v.VerifyImage(cmd.Context(), r, parsed, ropts...)
	if err != nil {
		out.Err = err
		return out
	}
	out.Decision = &d
	return out
}
