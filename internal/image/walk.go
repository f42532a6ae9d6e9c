package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
)

// Limits bound what an image may make the walker do. A zero field takes
// its default (DefaultLimits); a negative one disables that limit.
type Limits struct {
	// MaxFileSize is the largest file whose content is kept in memory. A
	// selected file above it is listed but not kept, and recorded in
	// FS.Problems; reading it gives ErrTooLarge. Streams are not bound by it.
	MaxFileSize int64
	// MaxTotalBytes bounds the content kept in memory at any one time. Going
	// past it fails the walk: the selection is too broad for the image.
	MaxTotalBytes int64
	// MaxEntries bounds the tar entries read, over all layers.
	MaxEntries int
	// MaxPathLength bounds a path or link target in a tar header, in bytes.
	MaxPathLength int
	// MaxUncompressedBytes bounds the decompressed bytes read, over all layers.
	MaxUncompressedBytes int64
	// MaxCompressionRatio bounds decompressed/compressed bytes of one layer,
	// checked once the layer has produced RatioFloor decompressed bytes:
	// a decompression bomb is stopped early instead of at the total cap.
	MaxCompressionRatio float64
	// RatioFloor is the decompressed size of a layer below which the ratio
	// is not checked (small, very compressible layers are normal).
	RatioFloor int64
	// MaxRecordBytes bounds the memory a layer's record for a LayerCache
	// may take while the layer is read (its entries and kept content); a
	// layer beyond it is not cached.
	MaxRecordBytes int64
}

// DefaultLimits are the limits used for zero fields of Limits.
var defaultLimits = Limits{
	MaxFileSize:          64 << 20,
	MaxTotalBytes:        512 << 20,
	MaxEntries:           1_000_000,
	MaxPathLength:        4096,
	MaxUncompressedBytes: 16 << 30,
	MaxCompressionRatio:  100,
	RatioFloor:           128 << 20,
	MaxRecordBytes:       128 << 20,
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits { return defaultLimits }

func (l Limits) withDefaults() Limits {
	d := defaultLimits
	if l.MaxFileSize == 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxPathLength == 0 {
		l.MaxPathLength = d.MaxPathLength
	}
	if l.MaxUncompressedBytes == 0 {
		l.MaxUncompressedBytes = d.MaxUncompressedBytes
	}
	if l.MaxCompressionRatio == 0 {
		l.MaxCompressionRatio = d.MaxCompressionRatio
	}
	if l.RatioFloor == 0 {
		l.RatioFloor = d.RatioFloor
	}
	if l.MaxRecordBytes == 0 {
		l.MaxRecordBytes = d.MaxRecordBytes
	}
	return l
}

// Selector is asked about every regular file the walk meets, in every
// layer, with its path in the image (slash-separated, no leading slash:
// "etc/os-release") and its tar header (read-only). It must be pure and
// cheap: it runs once per file per layer. Paths are canonical: a file
// written through a symlinked directory ("bin/x" where bin -> usr/bin) is
// offered under its real place ("usr/bin/x").
type Selector func(path string, hdr *tar.Header) Want

// Want is a Selector's answer for one file.
type Want struct {
	// Keep keeps the file's content in memory for FS.Open and fs.ReadFile.
	Keep bool
	// MaxSize, when positive and below Limits.MaxFileSize, lowers the cap
	// for keeping this file.
	MaxSize int64
	// Streams each read the file's bytes once, during the pass; see Stream.
	Streams []Stream
}

// Stream reads a file's content once, while its layer streams by, without
// the walker keeping it: the way to inspect files too large to hold, such
// as Go binaries (scan the reader for the build information) or every text
// file for secrets.
//
// Read is called with the file's bytes and returns a value that the FS
// keeps under the stream's Name (FS.Result, FS.Results). It may stop
// reading early; the walker discards the rest. It is called for every
// version of a path in every layer, but only the result for the final
// version (the file the image actually contains) is kept; a result for a
// file deleted or replaced by an upper layer is dropped. A file reached
// by a hardlink carries the result of the file it links to.
//
// Several streams on one file run concurrently, each on its own reader, so
// Read must not share unsynchronised state with other streams. An error
// from Read is kept with the result; it does not stop the walk. Read must
// not keep the reader after it returns.
type Stream struct {
	Name string
	Read func(path string, r io.Reader) (any, error)
	// KeepHidden keeps this stream's results for files that an upper
	// layer deletes or replaces too (FS.HiddenResults): a secret removed by
	// a later layer is still in the image, in the layer that added it.
	KeepHidden bool
	// Encode and Decode turn a result of Read into bytes and back, so a
	// LayerCache can keep it (JSONCodec makes both). A layer with a file
	// streamed by a stream without them is never cached.
	Encode func(any) ([]byte, error)
	Decode func([]byte) (any, error)
}

// Combine merges selectors: a file is kept if any wants it kept, with the
// largest size cap any asks for, and gets every stream any asks for.
func Combine(sels ...Selector) Selector {
	return func(p string, hdr *tar.Header) Want {
		var out Want
		for _, s := range sels {
			if s == nil {
				continue
			}
			w := s(p, hdr)
			if w.Keep {
				if !out.Keep || w.MaxSize <= 0 || (out.MaxSize > 0 && w.MaxSize > out.MaxSize) {
					out.MaxSize = w.MaxSize
				}
				out.Keep = true
			}
			out.Streams = append(out.Streams, w.Streams...)
		}
		return out
	}
}

// SelectPaths keeps the content of the files at the given paths (exact
// image paths such as "etc/os-release" or "var/lib/dpkg/status").
func SelectPaths(paths ...string) Selector {
	set := make(map[string]bool, len(paths))
	for _, p := range paths {
		set[strings.TrimPrefix(path.Clean("/"+p), "/")] = true
	}
	return func(p string, _ *tar.Header) Want { return Want{Keep: set[p]} }
}

// SelectAll keeps every regular file's content (within the limits); meant
// for small images and tests.
func SelectAll() Selector {
	return func(string, *tar.Header) Want { return Want{Keep: true} }
}

// LayerRef names one layer of an image.
type LayerRef struct {
	// Index counts layers from 0, the bottom (base) layer.
	Index int `json:"index"`
	// Digest is the layer blob's digest as the manifest lists it; empty for
	// a rootfs directory.
	Digest string `json:"digest,omitempty"`
	// DiffID is the digest of the uncompressed layer, from the config.
	DiffID string `json:"diffID,omitempty"`
}

func (l LayerRef) String() string {
	if l.Digest == "" {
		return fmt.Sprintf("layer %d", l.Index)
	}
	return fmt.Sprintf("layer %d (%s)", l.Index, l.Digest)
}

// ErrLimit is wrapped by every error a walk returns because the image went
// past one of its Limits.
var ErrLimit = errors.New("image limit exceeded")

// ErrMalformed is wrapped by errors for layers that are not valid tar
// streams or describe impossible file systems (a hardlink to nothing, a
// path escaping the root, a file inside a regular file).
var ErrMalformed = errors.New("malformed layer")

// Walk streams img's layers bottom to top in one pass and returns the final
// file system. Errors name the layer at fault ("layer 2 (sha256:...)").
// The context is checked between entries and on every read; for a
// registry image, cancelling the context given to Open also stops
// downloads.
func Walk(ctx context.Context, img v1.Image, sel Selector, lim Limits) (*FS, error) {
	return WalkCached(ctx, img, sel, lim, nil)
}

// WalkCached is Walk with a cache of layers: a layer found in cache (by
// its blob digest) is replayed from its record without reading its blob,
// and each layer read is recorded and put in the cache. The cache must be
// keyed, by its caller, by everything sel and lim depend on. FS.Cached
// tells which layers were replayed.
func WalkCached(ctx context.Context, img v1.Image, sel Selector, lim Limits, cache LayerCache) (*FS, error) {
	fsys, err := walk(ctx, img, sel, lim, cache)
	if errors.Is(err, errReplayMismatch) {
		// The record was made under another base (see layercache.go):
		// read every layer.
		return walk(ctx, img, sel, lim, nil)
	}
	return fsys, err
}

func walk(ctx context.Context, img v1.Image, sel Selector, lim Limits, cache LayerCache) (*FS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	var diffIDs []v1.Hash
	if cf, err := img.ConfigFile(); err == nil && cf != nil {
		diffIDs = cf.RootFS.DiffIDs
	}
	w := newWalker(sel, lim)
	for i, l := range layers {
		ref := LayerRef{Index: i}
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d: digest: %w", i, err)
		}
		ref.Digest = d.String()
		if i < len(diffIDs) {
			ref.DiffID = diffIDs[i].String()
		}
		w.fs.layers = append(w.fs.layers, ref)
		if cache != nil {
			if rec, ok := cache.GetLayer(ref.Digest); ok {
				if err := w.replayLayer(ctx, int32(i), rec); err != nil {
					if errors.Is(err, errReplayMismatch) {
						return nil, err
					}
					return nil, fmt.Errorf("%s: %w", ref, err)
				}
				w.fs.cached = append(w.fs.cached, i)
				continue
			}
			w.rec = &recorder{rec: &LayerRecord{}, ok: true, max: w.lim.MaxRecordBytes}
		}
		if err := w.layer(ctx, int32(i), l); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		if w.rec != nil && w.rec.ok {
			cache.PutLayer(ref.Digest, w.rec.rec)
		}
		w.rec = nil
	}
	return w.done(), nil
}

// replayLayer applies a recorded layer.
func (w *walker) replayLayer(ctx context.Context, idx int32, rec *LayerRecord) error {
	defer func() { w.replay = nil }()
	for i := range rec.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.entries++
		if w.lim.MaxEntries > 0 && w.entries > w.lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrLimit, w.lim.MaxEntries)
		}
		w.replay = &rec.Entries[i]
		if err := w.apply(idx, w.replay.header(), nil, true); err != nil {
			return err
		}
	}
	return nil
}

// walker holds the state of one pass.
type walker struct {
	fs           *FS
	sel          Selector
	lim          Limits
	entries      int
	kept         int64 // content bytes held now
	uncompressed int64 // decompressed bytes read so far, all layers
	streamed     int64 // bytes given to streams, all layers
	// rec records the layer being read for a LayerCache; replay is the
	// recorded entry being applied instead of a read one.
	rec    *recorder
	replay *LayerEntry
}

func newWalker(sel Selector, lim Limits) *walker {
	if sel == nil {
		sel = func(string, *tar.Header) Want { return Want{} }
	}
	w := &walker{fs: newFS(), sel: sel, lim: lim.withDefaults()}
	// Typical paths take under 20 steps; 512 per entry leaves room for
	// symlinked directories while bounding the total.
	budget := int64(512) * int64(w.lim.MaxEntries)
	if w.lim.MaxEntries <= 0 {
		budget = 1 << 40
	}
	w.fs.budget, w.fs.entryCap = &budget, w.lim.MaxEntries
	return w
}

// done hands the FS over for reading.
func (w *walker) done() *FS {
	w.fs.budget = nil
	return w.fs
}

// layer applies one layer.
func (w *walker) layer(ctx context.Context, idx int32, l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	comp := &countReader{ctx: ctx, r: rc}
	// The compressed bytes are read ahead on their own goroutine, as
	// much as a 1 MiB bufio.Reader held before (the ratio limit counts
	// them as read): the read system calls then overlap with inflating.
	// The small bufio.Reader is only for the magic number; reads of 16
	// bytes or more go past its buffer.
	cra := newReadAhead(comp, compressedReadAheadChunks)
	defer cra.Close()
	br := bufio.NewReaderSize(cra, 16)
	magic, _ := br.Peek(4)
	var plain io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		// internal/inflate, not compress/gzip: inflating the layer is most
		// of a cold scan's CPU, and it is about 1.4× faster (see
		// BenchmarkInflateBookwormLayer). It runs on the read-ahead
		// goroutine, overlapping with the tar walk; each member's CRC-32 is
		// computed and checked as the walk reads the bytes, on the walk's
		// goroutine, so the decoder alone is the critical path; it decodes
		// into the read-ahead's buffers, which the walk then reads.
		ra := newInflateAhead(br)
		defer ra.Close()
		plain = ra
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return fmt.Errorf("%w: zstd: %v", ErrMalformed, err)
		}
		defer zr.Close()
		plain = zr
	}
	ur := &bombReader{r: plain, comp: comp, w: w}
	tr := tar.NewReader(ur)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wrapRead(err)
		}
		w.entries++
		if w.lim.MaxEntries > 0 && w.entries > w.lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrLimit, w.lim.MaxEntries)
		}
		if w.rec != nil {
			w.rec.add(hdr)
		}
		if err := w.apply(idx, hdr, tr, true); err != nil {
			return err
		}
	}
	// Read to the end so that sources which verify the blob's digest at
	// EOF (registries, layouts) do so.
	if _, err := io.Copy(io.Discard, ur); err != nil {
		return wrapRead(err)
	}
	return nil
}

// wrapRead classifies a read error: limits and cancellation pass through,
// anything else is a malformed layer.
func wrapRead(err error) error {
	if errors.Is(err, ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// compressedReadAheadChunks bounds the compressed read-ahead to 1 MiB
// (chunks+1 buffers of readAheadChunkSize).
const compressedReadAheadChunks = 1<<20/readAheadChunkSize - 1

// countReader counts compressed bytes and stops on cancellation. It is read
// on the read-ahead goroutine and its count on the walk's, hence atomic.
type countReader struct {
	ctx context.Context
	r   io.Reader
	n   atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// bombReader enforces the decompressed-size and ratio limits.
type bombReader struct {
	r     io.Reader
	comp  *countReader
	w     *walker
	layer int64
}

func (b *bombReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if lerr := b.count(int64(n)); lerr != nil {
		return n, lerr
	}
	return n, err
}

// count adds n decompressed bytes and checks the limits.
func (b *bombReader) count(n int64) error {
	b.layer += n
	b.w.uncompressed += n
	lim := b.w.lim
	if lim.MaxUncompressedBytes > 0 && b.w.uncompressed > lim.MaxUncompressedBytes {
		return fmt.Errorf("%w: more than %d decompressed bytes", ErrLimit, lim.MaxUncompressedBytes)
	}
	if lim.MaxCompressionRatio > 0 && b.layer > lim.RatioFloor {
		if c := b.comp.n.Load(); c > 0 && float64(b.layer)/float64(c) > lim.MaxCompressionRatio {
			return fmt.Errorf("%w: decompression bomb: %d bytes from %d compressed (ratio above %.0f)",
				ErrLimit, b.layer, c, lim.MaxCompressionRatio)
		}
	}
	return nil
}

// errNoSeek answers archive/tar's probe when the layer is not inflated on
// the read-ahead goroutine; it then copies skipped bodies out as before.
var errNoSeek = errors.New("layer stream cannot skip")

// Seek lets archive/tar skip the bodies of entries nobody reads without
// copying them: it probes with Seek(0, io.SeekCurrent), then seeks forward
// from the current position. Only such forward seeks over a read-ahead
// stream are supported; the offset returned is the layer's decompressed
// bytes consumed, and skipped bytes count against the limits as read ones
// do. A skip cut short by the end of the stream returns the offset
// reached: the next Read reports the stream's end or error.
func (b *bombReader) Seek(offset int64, whence int) (int64, error) {
	ra, ok := b.r.(*readAhead)
	if !ok || whence != io.SeekCurrent || offset < 0 {
		return 0, errNoSeek
	}
	// A chunk at a time: the limits stop a bomb as Read's would.
	for offset > 0 {
		step := min(offset, readAheadChunkSize)
		k := ra.skip(step)
		if err := b.count(k); err != nil {
			return 0, err
		}
		if k < step {
			break
		}
		offset -= k
	}
	return b.layer, nil
}

// cleanName normalises a tar header name to an image path: leading "/"
// and "./" are dropped, "a/../b" becomes "b". A name that climbs above the
// root ("../x") is an error: no runtime writes it inside the image.
func cleanName(name string) (string, error) {
	n := strings.TrimLeft(name, "/")
	if n == "" || n == "." || n == "./" {
		return "", nil
	}
	depth := 0
	for _, c := range strings.Split(n, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("%w: path %q climbs out of the image root", ErrMalformed, name)
			}
		default:
			depth++
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// apply adds one entry to the tree. layered is false for a rootfs
// directory, where ".wh." files are plain files.
func (w *walker) apply(layer int32, hdr *tar.Header, r io.Reader, layered bool) error {
	if max := w.lim.MaxPathLength; max > 0 && (len(hdr.Name) > max || len(hdr.Linkname) > max) {
		return fmt.Errorf("%w: path longer than %d bytes in entry %.64q", ErrLimit, max, hdr.Name)
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	t := w.fs
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			t.root.setMeta(hdr, layer)
		}
		return nil
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if layered && strings.Contains("/"+dir+"/", "/"+whiteoutMeta) {
		return nil // below aufs bookkeeping directories (.wh..wh.plnk/)
	}
	if layered && strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == whiteoutOpaque:
			parent, err := t.ensureDir(dir, layer)
			if err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			for k := range parent.kids {
				w.prune(parent, k, layer)
			}
		case strings.HasPrefix(base, whiteoutMeta):
			// aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the file system.
		default:
			parent := t.lookup(dir, true)
			if parent != nil && parent.isDir() {
				if _, ok := parent.kids[base[len(whiteoutPrefix):]]; ok {
					w.prune(parent, base[len(whiteoutPrefix):], layer)
				}
			}
		}
		return nil
	}
	parent, err := t.ensureDir(dir, layer)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	canon := joinPath(parent.path(), base)
	old := parent.kids[base]

	switch hdr.Typeflag {
	case tar.TypeDir:
		if old != nil && old.isDir() {
			old.setMeta(hdr, layer)
			return nil
		}
		n := &node{name: base, parent: parent, kids: map[string]*node{}}
		n.setMeta(hdr, layer)
		w.replace(parent, base, n)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		n := &node{name: base, parent: parent}
		n.setMeta(hdr, layer)
		if err := w.content(n, canon, hdr, r); err != nil {
			return fmt.Errorf("%s: %w", canon, err)
		}
		w.replace(parent, base, n)
	case tar.TypeSymlink:
		n := &node{name: base, parent: parent}
		n.setMeta(hdr, layer)
		n.link = hdr.Linkname
		w.replace(parent, base, n)
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("%s: hardlink: %w", hdr.Name, err)
		}
		tn := t.lookup(target, false)
		switch {
		case tn == nil:
			return fmt.Errorf("%w: %s: hardlink to %q, which does not exist", ErrMalformed, hdr.Name, hdr.Linkname)
		case tn.isDir():
			return fmt.Errorf("%w: %s: hardlink to directory %q", ErrMalformed, hdr.Name, hdr.Linkname)
		}
		if tn == old {
			return nil // a link to itself changes nothing
		}
		n := &node{name: base, parent: parent, mode: tn.mode, size: tn.size, mtime: tn.mtime,
			uid: tn.uid, gid: tn.gid, layer: layer, link: tn.link, hardTo: tn.path()}
		if tn.extra != nil {
			x := *tn.extra
			n.extra = &x
			w.kept += int64(len(x.data))
		}
		w.replace(parent, base, n)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// Listed so the view matches what a runtime shows, never read.
		n := &node{name: base, parent: parent}
		n.setMeta(hdr, layer)
		n.size = 0
		w.replace(parent, base, n)
	default:
		w.fs.problems = append(w.fs.problems, Problem{Path: canon, Layer: int(layer),
			Message: fmt.Sprintf("tar entry type %q ignored", hdr.Typeflag)})
	}
	return nil
}

// content runs the selector on a regular file and keeps or streams it.
func (w *walker) content(n *node, canon string, hdr *tar.Header, r io.Reader) error {
	want := w.sel(canon, hdr)
	if !want.Keep && len(want.Streams) == 0 {
		return nil
	}
	x := &nodeExtra{}
	var data []byte
	if want.Keep {
		limit := w.lim.MaxFileSize
		if want.MaxSize > 0 && (limit < 0 || want.MaxSize < limit) {
			limit = want.MaxSize
		}
		switch {
		case limit >= 0 && hdr.Size > limit:
			x.tooLarge = true
			w.fs.problems = append(w.fs.problems, Problem{Path: canon, Layer: int(n.layer),
				Message: fmt.Sprintf("content not kept: %d bytes is above the %d-byte cap", hdr.Size, limit)})
		case w.lim.MaxTotalBytes >= 0 && w.kept+hdr.Size > w.lim.MaxTotalBytes:
			return fmt.Errorf("%w: keeping %d more bytes would pass the %d-byte total", ErrLimit, hdr.Size, w.lim.MaxTotalBytes)
		case w.replay != nil:
			x.kept = true // data and results come from the record below
		default:
			data = make([]byte, hdr.Size)
			if _, err := io.ReadFull(r, data); err != nil {
				return wrapRead(err)
			}
			x.data = data
			x.kept = true
			w.kept += int64(len(data))
		}
	}
	if w.replay != nil {
		data, res, err := replayContent(w.replay, canon, x.kept, want.Streams)
		if err != nil {
			return err
		}
		if x.kept {
			x.data = data
			w.kept += int64(len(data))
		}
		x.results = res
		n.extra = x
		return nil
	}
	if len(want.Streams) > 0 {
		src := r
		if x.kept {
			src = nil
		}
		if src != nil {
			// Sparse entries expand to their logical size without input
			// bytes; count what streams read against the decompressed cap.
			src = &streamCounter{r: src, w: w}
		}
		res, err := runStreams(canon, want.Streams, data, src)
		if err != nil {
			return wrapRead(err)
		}
		x.results = res
	}
	if w.rec != nil {
		w.rec.content(x.data, x.kept, want.Streams, x.results)
	}
	n.extra = x
	return nil
}

// runStreams feeds a file to its streams: from memory when it was kept,
// else from the layer, fanned out to concurrent readers.
func runStreams(p string, streams []Stream, data []byte, r io.Reader) (map[string]StreamResult, error) {
	out := make(map[string]StreamResult, len(streams))
	if r == nil {
		for _, s := range streams {
			v, err := s.Read(p, bytes.NewReader(data))
			out[s.Name] = StreamResult{Path: p, Value: v, Err: err, keepHidden: s.KeepHidden}
		}
		return out, nil
	}
	if len(streams) == 1 {
		s := streams[0]
		cr := &errTrackReader{r: r}
		v, err := s.Read(p, cr)
		out[s.Name] = StreamResult{Path: p, Value: v, Err: err, keepHidden: s.KeepHidden}
		if cr.err != nil && cr.err != io.EOF {
			return nil, cr.err
		}
		return out, nil
	}
	type res struct {
		name string
		v    any
		err  error
		keep bool
	}
	pws := make([]*io.PipeWriter, len(streams))
	ws := make([]io.Writer, len(streams))
	done := make(chan res, len(streams))
	for i, s := range streams {
		pr, pw := io.Pipe()
		pws[i], ws[i] = pw, pw
		go func() {
			v, err := s.Read(p, pr)
			// Drain what the stream left so the writer never blocks.
			_, _ = io.Copy(io.Discard, pr)
			done <- res{s.Name, v, err, s.KeepHidden}
		}()
	}
	_, cerr := io.Copy(io.MultiWriter(ws...), r)
	for _, pw := range pws {
		if cerr != nil {
			pw.CloseWithError(cerr)
		} else {
			pw.Close()
		}
	}
	for range streams {
		x := <-done
		out[x.name] = StreamResult{Path: p, Value: x.v, Err: x.err, keepHidden: x.keep}
	}
	if cerr != nil {
		return nil, cerr
	}
	return out, nil
}

// streamCounter counts bytes fed to streams against MaxUncompressedBytes.
type streamCounter struct {
	r io.Reader
	w *walker
}

func (s *streamCounter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.w.streamed += int64(n)
	if max := s.w.lim.MaxUncompressedBytes; max > 0 && s.w.streamed > max {
		return n, fmt.Errorf("%w: streams read more than %d bytes", ErrLimit, max)
	}
	return n, err
}

// errTrackReader remembers a read error from the layer, so that a stream
// swallowing it does not hide a broken layer.
type errTrackReader struct {
	r   io.Reader
	err error
}

func (e *errTrackReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// replace puts n at parent/name, releasing whatever was there.
func (w *walker) replace(parent *node, name string, n *node) {
	if old, ok := parent.kids[name]; ok {
		w.release(old)
	}
	parent.kids[name] = n
}

// release forgets a subtree's kept content.
func (w *walker) release(n *node) {
	if n.extra != nil {
		for name, r := range n.extra.results {
			if r.keepHidden {
				r.Path, r.Layer, r.Hidden = n.path(), int(n.layer), true
				w.fs.hidden = append(w.fs.hidden, hiddenResult{stream: name, r: r})
			}
		}
		w.kept -= int64(len(n.extra.data))
		n.extra = nil
	}
	for _, k := range n.kids {
		w.release(k)
	}
}

// prune applies a whiteout in layer to parent/name: everything below it
// written by lower layers goes; what the whiteout's own layer wrote stays
// (the OCI image spec: a whiteout only hides lower layers' files).
func (w *walker) prune(parent *node, name string, layer int32) {
	n := parent.kids[name]
	for k := range n.kids {
		w.prune(n, k, layer)
	}
	if n.layer < layer && len(n.kids) == 0 {
		w.release(n)
		delete(parent.kids, name)
	}
}
