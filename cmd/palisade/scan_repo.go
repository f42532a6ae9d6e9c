package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli/configcmd"
)

func newScanRepoCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &configcmd.Options{}
	df := &depFlags{}
	cmd := &cobra.Command{
		Use:   "repo DIR",
		Short: "Scan a whole repository: manifests, Helm charts, kustomizations, Dockerfiles and the dependencies of lock files",
		Long: `Scan everything in a repository that ends up in a cluster, in one report:
Kubernetes manifests, Helm charts (directories and packaged .tgz, rendered
with --values/--set as helm template would), kustomize overlays (rendered
offline as kustomize build would; remote bases are refused) and Dockerfiles.
Hidden directories, node_modules and vendor are skipped.

The dependencies pinned by lock files (package-lock.json and
npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock, poetry.lock, uv.lock,
Pipfile.lock, requirements*.txt pins, Gemfile.lock, composer.lock,
packages.lock.json, Cargo.lock, mix.lock, conan.lock, pubspec.lock,
Package.resolved) are matched against the vulnerability database
(palisade db update; --cache-dir): each finding names the lock file and
the package's line, and says when the package is a development
dependency. A lock file that does not parse, a missing database, or an
ecosystem without advisories is an error (exit 2) unless
--allow-missing-data. A dependency vulnerability of unknown severity fails
--fail-on at every level but none, unless --ignore-unknown-severity. --scanners config or --scanners vuln runs one
side only. --vex applies OpenVEX documents as scan image does: a
not_affected or fixed statement whose product names the package by PURL
(pkg:npm/lodash@4.17.20, or pkg:npm/lodash for every version) suppresses
the finding, which stays in the report marked suppressed with the
statement's status and justification; a VEX file that cannot be read is
an error (exit 2) naming the file.

Each finding names the file a developer edits: the manifest, the chart
template, the kustomize resource file (or kustomization file for generated
objects), the Dockerfile.

--baseline FILE reports and fails only on findings not accepted in FILE,
written earlier with --write-baseline. Fingerprints do not depend on line
numbers, and paths are taken relative to DIR.

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage or input error, such as an object not understood or
nothing to scan (the report still covers the rest; --ignore-input-errors
decides by the findings alone).`,
		Example: `  palisade scan repo .
  palisade scan repo . --write-baseline .palisade-baseline.json
  palisade scan repo . --baseline .palisade-baseline.json --fail-on high -o sarif --output-file palisade.sarif
  palisade scan repo . --values ci/values-prod.yaml --set image.tag=1.2.3 --ci
  palisade scan repo . --scanners vuln --vex .vex/app.openvex.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("scan repo needs exactly one DIR")}
			}
			if info, err := os.Stat(args[0]); err != nil || !info.IsDir() {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("scan repo: %s is not a directory", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			env := configEnv(g, "palisade scan repo")
			return configcmd.Run(cmd, s, &g.Global, &env, o, df, args, args[0])
		},
	}
	o.ScanFlags.AddFlags(cmd)
	df.addFlags(cmd, &o.ScanFlags)
	o.AddFlags(cmd)
	return cmd
}
