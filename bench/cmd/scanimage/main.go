// Command scanimage is `palisade scan image <ref> -o json --fail-on none`
// in a binary that links only the image scan and the JSON report: the
// same library calls (imagescan.Scan, report.Write) with the same cache
// directories, without the palisade command's other packages.
//
// It exists to measure what the palisade binary's start-up costs a scan.
// Every Go package linked into a binary runs its init at every start, for
// every subcommand; the palisade binary links the hub, the admission
// webhook, the manifest rules and client-go, whose inits (JSON schema
// compilation, client-go's scheme, govalidator's expressions) and page
// faults make most of a warm re-scan's CPU. BenchmarkImageScanStartup
// runs both binaries on the same image and cache and checks that their
// reports are identical byte for byte. It is a measuring instrument, not
// a product: it has none of scan image's other flags. The product that
// ships this start-up is cmd/palisade-scan (`palisade-scan image`, the
// same command as `palisade scan image`), which links cobra and the db
// commands besides; the benchmark times it beside this floor.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/report"
)

func main() {
	cacheDir := flag.String("cache-dir", "", "cache directory holding the vulnerability database (as palisade's --cache-dir)")
	scanners := flag.String("scanners", "vuln,secret", "vuln, secret, or both")
	noCache := flag.Bool("no-cache", false, "walk every layer and cache nothing (as palisade's --no-cache)")
	flag.Parse()
	if flag.NArg() != 1 || *cacheDir == "" {
		fmt.Fprintln(os.Stderr, "usage: scanimage --cache-dir DIR [--scanners vuln,secret] [--no-cache] IMAGE")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, flag.Arg(0), *cacheDir, *scanners, *noCache); err != nil {
		fmt.Fprintln(os.Stderr, "scanimage:", err)
		os.Exit(2)
	}
}

// run scans ref as cmd/palisade's scan image does with the same flags and
// writes the JSON report to standard output.
func run(ctx context.Context, ref, cacheDir, scanners string, noCache bool) error {
	sc, err := imagescan.ParseScanners(strings.Split(scanners, ","))
	if err != nil {
		return fmt.Errorf("--scanners: %w", err)
	}
	opts := imagescan.Options{Scanners: sc, CacheDir: cacheDir, MaxDBAge: -1, ToolName: "palisade", ToolVersion: "dev"}
	if !noCache {
		if opts.Cache, err = imagescan.NewDiskCache(filepath.Join(cacheDir, "inventories"), 0); err != nil {
			return err
		}
		if opts.Layers, err = imagescan.NewLayerDiskCache(filepath.Join(cacheDir, "layers"), 0); err != nil {
			return err
		}
	}
	res, err := imagescan.Scan(ctx, ref, opts)
	if err != nil {
		return err
	}
	if res.Report.Summary.Errors > 0 {
		for _, p := range res.Report.Problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", p.Level, p)
		}
		return fmt.Errorf("image %s: %d input error(s)", ref, res.Report.Summary.Errors)
	}
	return report.Write(os.Stdout, report.FormatJSON, res.Report, report.Options{ToolVersion: "dev", InformationURI: "https://github.com/palisade-sec/palisade"})
}
