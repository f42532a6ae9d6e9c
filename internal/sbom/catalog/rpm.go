package catalog

// rpm: the installed-package database in any of rpm's three formats
// (rpmdb). An image holds one live database; when several files are
// present (a BerkeleyDB Packages left behind after a migration to
// SQLite, or the same database under var/lib/rpm and
// usr/lib/sysimage/rpm), the first that reads, in the order of
// rpmDBPaths, is the one reported. gpg-pubkey entries (imported signing
// keys, which rpm keeps as pseudo-packages) are not software and are
// skipped.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/rpmdb"
)

var rpmDBPaths = []string{
	"usr/lib/sysimage/rpm/rpmdb.sqlite",
	"var/lib/rpm/rpmdb.sqlite",
	"usr/lib/sysimage/rpm/Packages.db",
	"var/lib/rpm/Packages.db",
	"usr/lib/sysimage/rpm/Packages",
	"var/lib/rpm/Packages",
	"usr/share/rpm/rpmdb.sqlite",
	"usr/share/rpm/Packages.db",
	"usr/share/rpm/Packages",
}

// maxRPMDBSize caps the database read; the largest real BerkeleyDB
// Packages files are a few hundred megabytes.
const maxRPMDBSize = 1 << 30

type rpmCataloger struct{}

// RPM returns the cataloger of rpm packages.
func RPM() Cataloger { return rpmCataloger{} }

func (rpmCataloger) Name() string { return "rpm" }

func (rpmCataloger) Wants(path string, size int64, mode fs.FileMode) bool {
	if !mode.IsRegular() || size > maxRPMDBSize {
		return false
	}
	for _, p := range rpmDBPaths {
		if p == path {
			return true
		}
	}
	return false
}

func (c rpmCataloger) Catalog(ctx context.Context, env Env, fsys fs.FS, paths []string) ([]sbom.Package, error) {
	present := map[string]bool{}
	for _, p := range paths {
		present[p] = true
	}
	var errs []error
	for _, p := range rpmDBPaths {
		if !present[p] {
			continue
		}
		pkgs, err := readRPMDB(ctx, fsys, p)
		if errors.Is(err, rpmdb.ErrUnknownFormat) {
			continue // a placeholder or an empty file
		}
		if err != nil && len(pkgs) == 0 {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		out := rpmPackages(env, pkgs, p)
		if err != nil {
			return out, &PartialError{Errs: []error{fmt.Errorf("%s: %w", p, err)}}
		}
		return out, nil
	}
	return nil, errors.Join(errs...)
}

func rpmPackages(env Env, pkgs []rpmdb.Package, location string) []sbom.Package {
	eco, vendor, distro := rpmEcosystem(env.OS)
	out := make([]sbom.Package, 0, len(pkgs))
	for _, p := range pkgs {
		if p.Name == "gpg-pubkey" {
			continue
		}
		srcName, srcVersion := p.Source()
		var lic []string
		if p.License != "" {
			lic = []string{p.License}
		}
		epoch := ""
		if p.Epoch != nil && *p.Epoch != 0 {
			epoch = fmt.Sprint(*p.Epoch)
		}
		out = append(out, sbom.Package{
			Name:      p.Name,
			Version:   p.EVR(),
			Ecosystem: eco,
			Type:      "rpm",
			PURL: sbom.PURL("rpm", vendor, p.Name, p.Version+"-"+p.Release,
				sbom.Qualifier{Key: "arch", Value: p.Arch}, sbom.Qualifier{Key: "epoch", Value: epoch},
				sbom.Qualifier{Key: "distro", Value: distro}, sbom.Qualifier{Key: "upstream", Value: p.SourceRPM}),
			SourceName:    srcName,
			SourceVersion: srcVersion,
			Arch:          p.Arch,
			Licenses:      lic,
			Locations:     []string{location},
			Cataloger:     "rpm",
		})
	}
	return out
}

// readRPMDB reads the database where it is when the file system's files
// support ReadAt (the image view, which holds selected files in memory,
// and os.DirFS do) and otherwise from a copy in memory: no temporary file.
func readRPMDB(ctx context.Context, fsys fs.FS, p string) ([]rpmdb.Package, error) {
	src, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	if ra, ok := src.(io.ReaderAt); ok && st.Mode().IsRegular() {
		if st.Size() > maxRPMDBSize {
			return nil, fmt.Errorf("larger than %d bytes", int64(maxRPMDBSize))
		}
		return rpmdb.Read(ctx, ra, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(src, maxRPMDBSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRPMDBSize {
		return nil, fmt.Errorf("larger than %d bytes", int64(maxRPMDBSize))
	}
	return rpmdb.Read(ctx, bytes.NewReader(data), int64(len(data)))
}
