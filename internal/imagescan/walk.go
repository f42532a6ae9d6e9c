package imagescan

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// streamPrefix names the walk streams of stream catalogers
// ("catalog/go-binary").
const streamPrefix = "catalog/"

// historyStream records the package list of every version of a
// single-file package database (dpkg status, apk installed), including
// versions that upper layers replaced, to find the layer that introduced
// each package: every apt-get install rewrites the whole status file, so
// the layer of the final file says nothing about older packages.
const historyStream = "imagescan/pkgdb-history"

// historyDBs are the single-file package databases whose history is kept,
// with the field prefixes of a package's name and version.
var historyDBs = map[string][2]string{
	"var/lib/dpkg/status":  {"Package:", "Version:"},
	"lib/apk/db/installed": {"P:", "V:"},
}

// maxHistorySize caps a package database read for its history.
const maxHistorySize = 64 << 20

// inventory opens ref and walks it once, or returns the cached inventory
// for its digest.
func inventory(ctx context.Context, ref string, opts Options, sc Scanners) (*Inventory, bool, error) {
	report(opts, Progress{Stage: "resolving"})
	src, err := image.Open(ctx, ref, opts.Image)
	if err != nil {
		return nil, false, err // image.Open names the image
	}
	info := ImageInfo{Ref: ref, Kind: src.Kind, Digest: src.Digest, IndexDigest: src.IndexDigest}
	if src.Platform != nil {
		info.Platform = src.Platform.String()
	}
	set := opts.Catalogers
	if set == nil {
		set = catalog.Default()
	}
	if opts.Packages != nil {
		return suppliedInventory(ctx, src, info, opts, sc)
	}
	key := ""
	if opts.Cache != nil && src.Digest != "" {
		key = cacheKey(src.Digest, sc, opts, set)
		if inv, ok := opts.Cache.Get(key); ok {
			c := *inv
			c.Image.Ref, c.Image.IndexDigest = ref, src.IndexDigest
			return &c, true, nil
		}
	}
	sels := []image.Selector{catalogSelector(ctx, set), contentManifestSelector}
	if sc.Secret {
		sels = append(sels, image.SecretSelector(opts.Secrets))
	}
	sel := image.Combine(sels...)
	var fsys *image.FS
	if src.Kind == image.KindRootFS {
		report(opts, Progress{Stage: "reading", Layer: 1, Layers: 1})
		fsys, err = src.FS(ctx, sel, opts.Limits)
		if err != nil {
			err = fmt.Errorf("image %s: %w", ref, err)
		}
	} else {
		img := src.Image
		if opts.Progress != nil {
			img = progressImage{Image: img, report: opts.Progress}
		}
		var layers image.LayerCache
		if opts.Layers != nil {
			// What a layer contributes does not depend on the executables
			// being listed (every entry's metadata is recorded).
			lo := opts
			lo.Executables = 0
			layers = scopedLayers{c: opts.Layers, scope: fmt.Sprintf("%s|maxfile=%d", cacheKey("", sc, lo, set), opts.Limits.MaxFileSize)}
		}
		fsys, err = image.WalkCached(ctx, img, sel, opts.Limits, layers)
		if err != nil {
			err = fmt.Errorf("image %s: %w", ref, err)
		}
	}
	if err != nil {
		return nil, false, err
	}
	info.Layers = fsys.Layers()
	report(opts, Progress{Stage: "cataloguing"})
	inv, err := catalogFS(ctx, fsys, set, info)
	if err != nil {
		return nil, false, err
	}
	inv.Scanned = sc
	if sc.Secret {
		inv.Secrets = image.SecretFindings(fsys, info.Name())
	}
	if opts.Executables > 0 {
		paths, ok := fsys.Executables(opts.Executables)
		inv.Executables = &Executables{Paths: paths, Over: !ok}
	}
	if key != "" {
		opts.Cache.Put(key, inv)
	}
	return inv, false, nil
}

// suppliedInventory is the inventory of an image whose packages the caller
// supplied: the layers are walked only for secrets, if asked.
func suppliedInventory(ctx context.Context, src *image.Source, info ImageInfo, opts Options, sc Scanners) (*Inventory, bool, error) {
	inv := &Inventory{Image: info, OS: opts.Packages.OS, Packages: slices.Clone(opts.Packages.Packages), Scanned: sc}
	if !sc.Secret {
		return inv, false, nil
	}
	var fsys *image.FS
	var err error
	sel := image.SecretSelector(opts.Secrets)
	if src.Kind == image.KindRootFS {
		fsys, err = src.FS(ctx, sel, opts.Limits)
	} else {
		fsys, err = image.WalkCached(ctx, src.Image, sel, opts.Limits, nil)
	}
	if err != nil {
		return nil, false, fmt.Errorf("image %s: %w", info.Ref, err)
	}
	inv.Image.Layers = fsys.Layers()
	inv.Secrets = image.SecretFindings(fsys, inv.Image.Name())
	return inv, false, nil
}

// catalogSelector keeps what the catalogers parse from memory, streams
// executables through the stream catalogers, and records the history of
// single-file package databases.
func catalogSelector(ctx context.Context, set *catalog.Set) image.Selector {
	return func(p string, hdr *tar.Header) image.Want {
		mode := hdr.FileInfo().Mode()
		var w image.Want
		w.Keep = set.Wants(p, hdr.Size, mode)
		for _, c := range set.StreamWants(p, hdr.Size, mode) {
			w.Streams = append(w.Streams, image.Stream{Name: streamPrefix + c.Name(), Encode: encodePackages, Decode: decodePackages,
				Read: func(path string, r io.Reader) (any, error) {
					return c.CatalogStream(ctx, path, r)
				}})
		}
		if fields, ok := historyDBs[p]; ok && w.Keep {
			w.Streams = append(w.Streams, image.Stream{Name: historyStream, KeepHidden: true, Encode: encodeHistory, Decode: decodeHistory,
				Read: func(_ string, r io.Reader) (any, error) {
					return readPackageList(r, fields[0], fields[1])
				}})
		}
		return w
	}
}

var encodeHistory, decodeHistory = image.JSONCodec[map[string]string]()

// streamPackages is a stream cataloger's result in a layer cache: the
// packages and the Go symbols, which sbom.Package does not serialise and
// a stream cataloger gives every package of one file alike.
type streamPackages struct {
	Packages  []sbom.Package `json:"packages"`
	GoSymbols []string       `json:"goSymbols,omitempty"`
	HasSyms   bool           `json:"hasSyms,omitempty"`
}

func encodePackages(v any) ([]byte, error) {
	pkgs, ok := v.([]sbom.Package)
	if !ok && v != nil {
		return nil, fmt.Errorf("stream result is %T", v)
	}
	sp := streamPackages{Packages: pkgs}
	for _, p := range pkgs {
		if p.GoSymbols != nil {
			sp.GoSymbols, sp.HasSyms = slices.Sorted(maps.Keys(p.GoSymbols)), true
			break
		}
	}
	return json.Marshal(sp)
}

func decodePackages(b []byte) (any, error) {
	var sp streamPackages
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, err
	}
	if sp.HasSyms {
		set := make(map[string]struct{}, len(sp.GoSymbols))
		for _, s := range sp.GoSymbols {
			set[s] = struct{}{}
		}
		for i := range sp.Packages {
			sp.Packages[i].GoSymbols = set
		}
	}
	return sp.Packages, nil
}

// readPackageList returns name -> version of a dpkg status or apk
// installed file (stanzas separated by blank lines). dpkg stanzas whose
// Status says the package is not installed are left out.
func readPackageList(r io.Reader, nameKey, versionKey string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxHistorySize))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var name, version string
	installed := true
	flush := func() {
		if name != "" && version != "" && installed {
			out[name] = version
		}
		name, version, installed = "", "", true
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, nameKey):
			name = strings.TrimSpace(line[len(nameKey):])
		case strings.HasPrefix(line, versionKey):
			version = strings.TrimSpace(line[len(versionKey):])
		case strings.HasPrefix(line, "Status:"):
			f := strings.Fields(line[len("Status:"):])
			installed = len(f) == 3 && f[2] != "not-installed" && f[2] != "config-files"
		}
	}
	flush()
	return out, sc.Err()
}

// catalogFS runs the catalogers over the walked file system, adds the
// stream catalogers' results for the files the final image contains, and
// sets each package's layer.
func catalogFS(ctx context.Context, fsys *image.FS, set *catalog.Set, info ImageInfo) (*Inventory, error) {
	// The stream catalogers already ran during the walk; Run would try to
	// open their files, which the walk did not keep.
	res, err := (&catalog.Set{Catalogers: set.Catalogers}).Run(ctx, fsys)
	if err != nil {
		return nil, fmt.Errorf("image %s: cataloguing: %w", info.Ref, err)
	}
	inv := &Inventory{Image: info, OS: res.OS, Packages: res.Packages}
	for _, w := range res.Warnings {
		inv.Problems = append(inv.Problems, notCatalogued("", w))
	}
	var csProblems []finding.Problem
	inv.ContentSets, csProblems = contentSets(fsys)
	inv.Problems = append(inv.Problems, csProblems...)
	// FS.Results holds results only for files of the final view: a Go
	// binary that a later layer deleted or replaced is not reported.
	for _, c := range set.Streams {
		for _, r := range fsys.Results(streamPrefix + c.Name()) {
			if r.Err != nil {
				inv.Problems = append(inv.Problems, notCatalogued("/"+r.Path, fmt.Errorf("cataloger %s: %w", c.Name(), r.Err)))
				continue
			}
			pkgs, _ := r.Value.([]sbom.Package)
			for _, p := range pkgs {
				// A hardlinked binary carries its target's result; the
				// package is where this file is.
				p.Locations = []string{r.Path}
				inv.Packages = append(inv.Packages, p)
			}
		}
	}
	for _, p := range fsys.Problems() {
		inv.Problems = append(inv.Problems, finding.Problem{Level: finding.LevelNote, File: "/" + p.Path,
			Message: fmt.Sprintf("layer %d: %s", p.Layer, p.Message)})
	}
	sortProblems(inv.Problems)
	hist := newHistory(fsys)
	layers := fsys.Layers()
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if len(p.Locations) == 0 {
			continue
		}
		loc := p.Locations[0]
		if idx, ok := hist.introduced(loc, p.Name, p.Version); ok && idx < len(layers) {
			p.LayerDigest = layers[idx].Digest
			continue
		}
		if l, ok := fsys.LayerOf(loc); ok {
			p.LayerDigest = l.Digest
		}
	}
	catalog.SortPackages(inv.Packages)
	if inv.Packages == nil {
		inv.Packages = []sbom.Package{}
	}
	return inv, nil
}

// history is every version of each single-file package database, bottom
// layer first.
type history map[string][]dbVersion

type dbVersion struct {
	layer int
	pkgs  map[string]string
}

func newHistory(fsys *image.FS) history {
	h := history{}
	add := func(r image.StreamResult) {
		if m, ok := r.Value.(map[string]string); ok && r.Err == nil {
			h[r.Path] = append(h[r.Path], dbVersion{layer: r.Layer, pkgs: m})
		}
	}
	for _, r := range fsys.HiddenResults(historyStream) {
		add(r)
	}
	for _, r := range fsys.Results(historyStream) {
		add(r)
	}
	for _, vs := range h {
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].layer < vs[j].layer })
	}
	return h
}

// introduced returns the lowest layer from which every later version of
// the database at path lists the package at this version.
func (h history) introduced(path, name, version string) (int, bool) {
	vs := h[path]
	layer, found := 0, false
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].pkgs[name] != version {
			break
		}
		layer, found = vs[i].layer, true
	}
	return layer, found
}

// progressImage reports the compressed bytes read from each layer.
type progressImage struct {
	v1.Image
	report func(Progress)
}

func (p progressImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = progressLayer{Layer: l, n: i + 1, of: len(ls), report: p.report}
	}
	return out, nil
}

type progressLayer struct {
	v1.Layer
	n, of  int
	report func(Progress)
}

func (l progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	total, _ := l.Size()
	l.report(Progress{Stage: "reading", Layer: l.n, Layers: l.of, Total: total})
	return &progressReader{rc: rc, l: l, total: total}, nil
}

type progressReader struct {
	rc    io.ReadCloser
	l     progressLayer
	total int64
	n     int64
	last  int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	r.n += int64(n)
	if r.n-r.last >= 1<<20 || errors.Is(err, io.EOF) {
		r.last = r.n
		r.l.report(Progress{Stage: "reading", Layer: r.l.n, Layers: r.l.of, Bytes: r.n, Total: r.total})
	}
	return n, err
}

func (r *progressReader) Close() error { return r.rc.Close() }

// notCatalogued is a file, or entries of one, that a cataloger could not
// read: the software there is missing from the SBOM and was not checked
// for vulnerabilities. That is an error (Scan makes it a warning under
// Options.AllowMissingData), since "no findings" would be a clean answer
// about software nobody looked at.
func notCatalogued(file string, err error) finding.Problem {
	return finding.Problem{Level: finding.LevelError, File: file,
		Message: err.Error() + " (its software is missing from the SBOM and was not checked for vulnerabilities)"}
}
