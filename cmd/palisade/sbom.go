package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cli/imagecmd"
	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// SBOM output formats of `palisade sbom`.
const (
	sbomCycloneDX = "cyclonedx"
	sbomSPDXJSON  = "spdx-json"
	sbomTable     = "table"
	sbomJSON      = "json"
)

func parseSBOMFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case sbomCycloneDX, "cyclonedx-json":
		return sbomCycloneDX, nil
	case sbomSPDXJSON, "spdx":
		return sbomSPDXJSON, nil
	case sbomTable:
		return sbomTable, nil
	case sbomJSON:
		return sbomJSON, nil
	}
	return "", fmt.Errorf("unknown SBOM format %q (valid: cyclonedx, spdx-json, table, json)", s)
}

func newSBOMCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		img        imagecmd.ImageFlags
		outputFile string
	)
	cmd := &cobra.Command{
		Use:   "sbom REF",
		Short: "List the software in an image as CycloneDX 1.6 or SPDX 2.3 JSON",
		Long: `Write the software bill of materials of a container image or a root file
system: the operating system and every package found (dpkg, apk, rpm, Go
binaries, Python, npm, Java), each with the layer that introduced it.

REF is a registry reference, oci:DIR, docker-archive:FILE or rootfs:DIR, as
for 'palisade scan image'. -o chooses the format: cyclonedx (CycloneDX 1.6
JSON, the default), spdx-json (SPDX 2.3 JSON), table (a package list for
people) or json (Palisade's own inventory). No vulnerability database is
needed. See docs/image-scanning.md and docs/sbom.md.

Exit codes: 0 success; 2 usage error, or the image could not be read.`,
		Example: `  palisade sbom registry.example.com/app:1.2 > app.cdx.json
  palisade sbom oci:./build/oci -o spdx-json --output-file app.spdx.json
  palisade sbom rootfs:/mnt/rootfs -o table`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &exitCodeError{Code: exitError, Err: errors.New("sbom needs exactly one image reference")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := sbomCycloneDX
			if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
				name = g.Output
			}
			format, err := parseSBOMFormat(name)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			iopts, err := img.Options(s, "palisade")
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			prog := cli.NewProgress(s, &g.Global)
			bi := buildinfo.Get()
			inv, err := imagescan.Catalog(cmd.Context(), args[0], imagescan.Options{
				Image: iopts, Progress: imagecmd.ProgressFunc(prog), ToolName: "palisade", ToolVersion: bi.Version,
			})
			prog.Done()
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if !g.Quiet {
				for _, p := range inv.Problems {
					if p.Level != "note" {
						fmt.Fprintf(s.Err, "%s: %s\n", p.Level, p)
					}
				}
			}
			var out io.Writer = s.Out
			var file *os.File
			if outputFile != "" {
				if file, err = os.Create(outputFile); err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--output-file: %w", err)}
				}
				out = file
			}
			err = writeSBOM(out, format, inv, bi.Version)
			if file != nil {
				if cerr := file.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			return nil
		},
	}
	img.Add(cmd)
	cmd.Flags().StringVar(&outputFile, "output-file", "", "write the SBOM to this file instead of standard output")
	return cmd
}

func writeSBOM(w io.Writer, format string, inv *imagescan.Inventory, version string) error {
	doc := inv.Document("palisade", version)
	switch format {
	case sbomCycloneDX:
		return sbom.WriteCycloneDX(w, doc)
	case sbomSPDXJSON:
		return sbom.WriteSPDX(w, doc)
	case sbomJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if inv.OS != nil {
		fmt.Fprintf(tw, "OS: %s %s\n\n", inv.OS.ID, inv.OS.VersionID)
	}
	fmt.Fprintln(tw, "NAME\tVERSION\tECOSYSTEM\tSOURCE\tLOCATION\tLAYER")
	for _, p := range inv.Packages {
		src := p.SourceName
		if src != "" && p.SourceVersion != "" && p.SourceVersion != p.Version {
			src += " " + p.SourceVersion
		}
		loc := ""
		if len(p.Locations) > 0 {
			loc = "/" + p.Locations[0]
		}
		layer := p.LayerDigest
		if len(layer) > 19 {
			layer = layer[:19]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Ecosystem, src, loc, layer)
	}
	fmt.Fprintf(tw, "\n%d packages\n", len(inv.Packages))
	return tw.Flush()
}
