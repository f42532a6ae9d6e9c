// Command palisade-scan is the image scan alone: `palisade-scan image` is
// `palisade scan image` (the same command, built by internal/cli/imagecmd:
// flags, defaults, help, output, exit codes, caches), with `db` to create
// and update the vulnerability database and `version`.
//
// It exists for start-up time. Every Go package linked into a binary runs
// its initialisers at every start, whatever the command; the palisade
// binary links Helm (its JSON-schema compiler), sigstore-go (go-openapi
// and govalidator), client-go's scheme, Prometheus and CEL for its other
// features, and their initialisers and page faults were most of a warm
// re-scan's time (bench/README.md, "Start-up"). This binary links none of
// them (TestLeanDependencies). What needs them is left out, and says so:
// the attestation flags (--sbom-attestations, --vex-attestations) need
// Sigstore verification and are refused with a pointer to `palisade scan
// image`.
package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/cli/dbcmd"
	"github.com/palisade-sec/palisade/internal/cli/imagecmd"
)

// program is the binary's name, in help, messages and User-Agent.
const program = "palisade-scan"

func main() { cli.Main(run) }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root, g := newRoot(cli.NewStreams(stdin, stdout, stderr))
	return cli.Run(ctx, root, g, args, stderr)
}

// newRoot builds the command tree and returns its output flags too.
func newRoot(s *cli.Streams) (*cobra.Command, *cli.Global) {
	g := &cli.Global{}
	root := cli.NewRoot(s, g, program, "Scan container images for vulnerable packages and embedded secrets",
		`palisade-scan is Palisade's image scan alone: 'palisade-scan image' is
'palisade scan image', in a binary that starts in a fraction of the time,
for CI runners and edge hosts that only scan images. It does not verify
signed SBOM or VEX attestations (--sbom-attestations, --vex-attestations):
use 'palisade scan image' for them.

Exit codes: 0 no findings at or above --fail-on, 1 findings at or above
--fail-on, 2 usage or input error (a mistyped command included), or
nothing could be checked.`)
	root.AddCommand(
		imagecmd.New(s, g, imagecmd.Config{Program: program, Path: program + " image"}),
		configcmd.New(s, g, configcmd.Env{Program: program, Path: program + " config"}),
		dbcmd.New(s, g, program),
		cli.NewVersionCommand(s, g, program),
	)
	cli.Finish(root)
	return root, g
}
