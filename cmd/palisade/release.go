package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/release"
)

// newReleaseCommand is the hidden `palisade release`: Palisade's own
// daemonless, reproducible, signed image build (docs/ci-cd.md).
func newReleaseCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "release",
		Short:  "Build, sign and verify Palisade's own release images (maintainers)",
		Hidden: true,
	}
	cmd.AddCommand(newReleaseBuildCommand(s), newReleaseVerifyCommand(s), newReleaseKeygenCommand(s), newReleaseCheckDeployCommand(s), newReleaseChartCommand(s))
	return cmd
}

// registryOptions are the remote options for a release's registry.
func registryOptions(insecure bool) []remote.Option {
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if insecure {
		opts = append(opts, remote.WithTransport(http.DefaultTransport))
	}
	return opts
}

func newReleaseBuildCommand(s *streams) *cobra.Command {
	var (
		repo, tag, keyFile, outDir, pkg, version, commit, caCerts, deployDir, deployRepo string
		insecure, push                                                                   bool
	)
	cmd := &cobra.Command{
		Use:   "build --repo REPO --tag TAG --key cosign.key",
		Short: "Build the linux/amd64 and linux/arm64 binaries and images, push the index, attach SBOMs and signatures",
		Long: `Builds Palisade reproducibly (CGO_ENABLED=0, -trimpath, no build ID,
timestamps from SOURCE_DATE_EPOCH, default the last commit's time), as two
images on a minimal base made from scratch (user 65532:65532, /tmp, CA
certificates from the host's Debian bundle, no shell), one OCI index; pushes
it to REPO:TAG; attaches a CycloneDX SBOM and a cosign signature (with the
PEM PKCS#8 key) to the index and each image; with --deploy-dir, pins every
reference to REPO in the manifests there to the index digest.
Prints the index reference REPO@sha256:... on standard output.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if repo == "" || (push && keyFile == "") {
				return &exitCodeError{Code: exitError, Err: errors.New("--repo and --key are required")}
			}
			epoch, err := release.EpochFromEnv(os.Getenv, gitCommitTime(cmd))
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if outDir == "" {
				outDir = filepath.Join(os.TempDir(), "palisade-release")
			}
			bo := release.BuildOptions{ModuleDir: ".", Package: pkg, OutDir: outDir, Version: version, Commit: commit, Epoch: epoch}
			bins := map[string]string{}
			for _, p := range release.Platforms {
				fmt.Fprintf(s.Err, "building %s\n", p)
				b, err := release.BuildBinary(cmd.Context(), bo, p)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				bins[p.String()] = b
			}
			imgOpts := release.ImageOptions{Epoch: epoch, Labels: map[string]string{
				"org.opencontainers.image.source":   "https://github.com/palisade-sec/palisade",
				"org.opencontainers.image.revision": commit,
				"org.opencontainers.image.version":  version,
			}}
			a, err := release.Assemble(bins, caCerts, imgOpts)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if !push {
				fmt.Fprintln(s.Out, release.Digest(a.Index))
				return nil
			}
			key, err := readSigningKey(keyFile)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			pub, err := release.Publish(cmd.Context(), a, repo, tag, key, imgOpts, registryOptions(insecure)...)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if deployDir != "" {
				if deployRepo == "" {
					deployRepo = repo
				}
				changed, err := release.RewriteDeploy(deployDir, deployRepo, pub.IndexDigest)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				for _, f := range changed {
					fmt.Fprintf(s.Err, "pinned %s to %s@%s\n", f, deployRepo, pub.IndexDigest)
				}
			}
			fmt.Fprintln(s.Out, pub.Ref())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "repository to push to, e.g. ghcr.io/palisade-sec/palisade")
	f.StringVar(&tag, "tag", "latest", "tag for the index (deploy/ pins the digest, never the tag)")
	f.StringVar(&keyFile, "key", "", "PEM PKCS#8 private key to sign with (palisade release keygen)")
	f.StringVar(&outDir, "out", "", "directory for the built binaries (default a temporary directory)")
	f.StringVar(&pkg, "package", "./cmd/palisade", "main package to build")
	f.StringVar(&version, "version", "", "version stamped into the binary")
	f.StringVar(&commit, "commit", "", "commit stamped into the binary and the image labels")
	f.StringVar(&caCerts, "ca-certificates", release.DefaultCACerts, "CA bundle to put in the image")
	f.StringVar(&deployDir, "deploy-dir", "", "rewrite image references to --deploy-repo under this directory to the pushed digest")
	f.StringVar(&deployRepo, "deploy-repo", "", "repository the manifests name (default --repo; the digest is the same in any registry)")
	f.BoolVar(&insecure, "insecure-registry", false, "reach the registry over plain HTTP (a local test registry)")
	f.BoolVar(&push, "push", true, "push, sign and attach SBOMs (false: build and print the index digest)")
	return cmd
}

func newReleaseVerifyCommand(s *streams) *cobra.Command {
	var repo, keyFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "verify --repo REPO --key cosign.pub DIGEST...",
		Short: "Verify the cosign signatures of release digests with the admission controller's verifier",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(keyFile)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			pub, err := admission.ParsePublicKey(data)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("%s: %w", keyFile, err)}
			}
			if err := release.Verify(cmd.Context(), repo, args, pub, registryOptions(insecure)...); err != nil {
				return &exitCodeError{Code: exitFindings, Err: err}
			}
			fmt.Fprintf(s.Out, "verified %d digest(s) of %s\n", len(args), repo)
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository")
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM public key")
	cmd.Flags().BoolVar(&insecure, "insecure-registry", false, "reach the registry over plain HTTP")
	return cmd
}

func newReleaseKeygenCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen DIR",
		Short: "Write an ECDSA P-256 signing key pair (cosign.key, cosign.pub; unencrypted PEM) into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			priv, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(args[0], "cosign.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if err := os.WriteFile(filepath.Join(args[0], "cosign.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			fmt.Fprintf(s.Out, "wrote %s and %s\n", filepath.Join(args[0], "cosign.key"), filepath.Join(args[0], "cosign.pub"))
			return nil
		},
	}
}

func newReleaseCheckDeployCommand(s *streams) *cobra.Command {
	var strict bool
	var only string
	cmd := &cobra.Command{
		Use:   "check-deploy DIR",
		Short: "Fail when an image reference under DIR is not pinned by digest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := release.DeployImages(args[0])
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if only != "" {
				var mine []release.ImageRef
				for _, r := range refs {
					if strings.HasPrefix(r.Ref, only+"@") || strings.HasPrefix(r.Ref, only+":") || r.Ref == only {
						mine = append(mine, r)
					}
				}
				refs = mine
			}
			bad := release.Unpinned(refs, !strict)
			for _, r := range bad {
				fmt.Fprintf(s.Out, "%s: not pinned by digest\n", r)
			}
			if len(bad) > 0 {
				return &exitCodeError{Code: exitFindings, Err: fmt.Errorf("%d of %d image reference(s) not pinned by digest", len(bad), len(refs))}
			}
			fmt.Fprintf(s.Out, "%d image reference(s), all pinned by digest\n", len(refs))
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "also refuse the release placeholder (after the release step)")
	cmd.Flags().StringVar(&only, "repo", "", "check only references to this repository")
	return cmd
}

// readSigningKey reads a PEM PKCS#8 (or SEC 1 EC) private key.
func readSigningKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block (encrypted cosign keys are not read: export an unencrypted PKCS#8 key)", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if signer, ok := k.(crypto.Signer); ok {
			return signer, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%s: not a PKCS#8 or EC private key", path)
}

// gitCommitTime is the last commit's time, the default SOURCE_DATE_EPOCH;
// the Unix epoch when there is no git history.
func gitCommitTime(cmd *cobra.Command) time.Time {
	out, err := execOutput(cmd, "git", "log", "-1", "--format=%ct")
	if err != nil {
		return time.Unix(0, 0).UTC()
	}
	var sec int64
	if _, err := fmt.Sscanf(out, "%d", &sec); err != nil {
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(sec, 0).UTC()
}
