package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/release"
)

// newReleaseChartCommand publishes the Helm chart beside the images: a
// signed OCI artifact whose image values are already pinned.
func newReleaseChartCommand(s *streams) *cobra.Command {
	var repo, version, keyFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "chart DIR",
		Short: "Package the Helm chart in DIR, push it as an OCI artifact and sign it",
		Long: `Packages the chart in DIR (deploy/helm/palisade after 'release build
--deploy-dir' pinned its image digests) with --version as its version and
appVersion, pushes it to --repo under the version as tag (as 'helm push'
does: 'helm install oci://REPO --version VERSION' reads it), and signs the
artifact's digest with --key as the images are signed ('release verify'
checks it). A chart whose images are not all pinned to a digest (the
source tree's placeholder) is refused.
Prints REPO@sha256:... on standard output.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repo == "" || keyFile == "" || version == "" {
				return &exitCodeError{Code: exitError, Err: errors.New("--repo, --version and --key are required")}
			}
			refs, err := release.DeployImages(args[0])
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if len(refs) == 0 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("chart %s: no image values found", args[0])}
			}
			if bad := release.Unpinned(refs, false); len(bad) > 0 {
				for _, r := range bad {
					fmt.Fprintf(s.Err, "%s: not pinned by digest\n", r)
				}
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("chart %s: %d image(s) not pinned (run 'release build --deploy-dir' on a copy first)", args[0], len(bad))}
			}
			epoch, err := release.EpochFromEnv(os.Getenv, gitCommitTime(cmd))
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			c, err := release.PackageChart(args[0], version, epoch)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			key, err := readSigningKey(keyFile)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			digest, err := release.PublishChart(cmd.Context(), c, repo, key, registryOptions(insecure)...)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			fmt.Fprintln(s.Out, repo+"@"+digest)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "repository to push the chart to, e.g. ghcr.io/palisade-sec/charts/palisade")
	f.StringVar(&version, "version", "", "chart version and appVersion (the release's version)")
	f.StringVar(&keyFile, "key", "", "PEM PKCS#8 signing key ('release keygen')")
	f.BoolVar(&insecure, "insecure-registry", false, "reach the registry over plain HTTP (a local test registry)")
	return cmd
}
