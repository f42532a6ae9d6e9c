package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// ErrNotSelected is returned (inside an *fs.PathError) when opening a
// regular file whose content the walk's Selector did not keep.
var ErrNotSelected = errors.New("content not selected by the walk")

// ErrTooLarge is returned (inside an *fs.PathError) when opening a file
// that was selected but was above its size cap; FS.Problems lists it.
var ErrTooLarge = errors.New("content above the size cap, not kept")

// Problem is something the walk skipped without failing: a selected file
// above its size cap, a tar entry type the view has no place for.
type Problem struct {
	Path    string
	Layer   int
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("%s (layer %d): %s", p.Path, p.Layer, p.Message) }

// StreamResult is what a Stream's Read returned for one final file.
type StreamResult struct {
	Path  string
	Value any
	Err   error
	// Layer is the index of the layer the file came from.
	Layer int
	// Hidden is true for a file that an upper layer deleted or replaced
	// (FS.HiddenResults).
	Hidden     bool
	keepHidden bool
}

type hiddenResult struct {
	stream string
	r      StreamResult
}

// Entry describes one path of the final file system.
type Entry struct {
	// Path is slash-separated, without a leading slash ("usr/bin/env").
	Path string
	// Mode carries the type bits (fs.ModeDir, fs.ModeSymlink, device
	// bits) and permissions, setuid, setgid and sticky included.
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	UID     int
	GID     int
	// Linkname is a symlink's target exactly as written (absolute targets
	// are relative to the image root).
	Linkname string
	// HardlinkTo is the path a hardlink was made to; the entry is
	// otherwise the regular file it shares content with.
	HardlinkTo string
	// Layer wrote this path last.
	Layer LayerRef
	// Kept says whether the content is in memory (fs.ReadFile works).
	Kept bool
}

// node is one path of the tree. Directories have a non-nil kids map.
type node struct {
	name   string
	parent *node
	kids   map[string]*node
	mode   fs.FileMode
	size   int64
	mtime  int64
	uid    int
	gid    int
	layer  int32
	link   string
	hardTo string
	extra  *nodeExtra
}

// nodeExtra holds what only selected files have.
type nodeExtra struct {
	data     []byte
	kept     bool
	tooLarge bool
	results  map[string]StreamResult
}

func (n *node) isDir() bool     { return n.kids != nil }
func (n *node) isSymlink() bool { return n.mode&fs.ModeSymlink != 0 }

func (n *node) setMeta(hdr *tar.Header, layer int32) {
	n.mode = hdr.FileInfo().Mode()
	n.size = hdr.Size
	if n.isDir() {
		n.mode |= fs.ModeDir
		n.size = 0
	}
	n.mtime = hdr.ModTime.Unix()
	n.uid, n.gid = hdr.Uid, hdr.Gid
	n.layer = layer
}

func (n *node) path() string {
	if n.parent == nil {
		return "."
	}
	var parts []string
	for x := n; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

func joinPath(dir, base string) string {
	if dir == "." || dir == "" {
		return base
	}
	return dir + "/" + base
}

// FS is the read-only final file system of an image. It implements
// fs.FS, fs.StatFS, fs.ReadFileFS, fs.ReadDirFS and fs.ReadLinkFS. Open,
// Stat and ReadFile follow symlinks inside the image root (an absolute
// target is relative to the root, ".." stops at the root); Lstat,
// ReadLink and Entry do not follow the last element. Every path of the
// image can be listed and stat'ed; only selected files can be read.
//
// An FS is immutable once returned and safe for concurrent use.
type FS struct {
	root     *node
	layers   []LayerRef
	problems []Problem
	hidden   []hiddenResult
	// budget counts path elements the walk may still visit resolving
	// paths (nil after the walk): symlink chains cannot make a layer of
	// many entries cost quadratic time.
	budget   *int64
	entryCap int
	// cached are the indexes of layers replayed from a LayerCache.
	cached []int
}

// Cached returns the indexes of the layers that were replayed from a
// LayerCache instead of read.
func (f *FS) Cached() []int { return append([]int(nil), f.cached...) }

func newFS() *FS {
	return &FS{root: &node{kids: map[string]*node{}, mode: fs.ModeDir | 0o755}}
}

// maxLinkHops is Linux's limit on symlinks followed in one lookup
// (MAXSYMLINKS); maxSteps bounds the path elements one lookup may visit,
// however the links expand.
const (
	maxLinkHops = 40
	maxSteps    = 8192
)

var errNotDir = errors.New("not a directory")

// walkPath resolves p from the root. Symlinks are followed inside the
// image (always for directories, for the last element when followLast).
// With create, missing directories are made, owned by layer, as a runtime
// does when a layer writes below a directory it does not declare.
func (f *FS) walkPath(p string, followLast, create bool, layer int32) (*node, error) {
	parts := splitPath(p)
	cur := f.root
	hops, steps := 0, 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		steps++
		if steps > maxSteps {
			return nil, fmt.Errorf("%w: resolving %.64q visits more than %d path elements", ErrMalformed, p, maxSteps)
		}
		if f.budget != nil {
			if *f.budget--; *f.budget < 0 {
				return nil, fmt.Errorf("%w: path resolution work over the budget of %d entries", ErrLimit, f.entryCap)
			}
		}
		switch c {
		case "", ".":
			continue
		case "..":
			if cur.parent != nil {
				cur = cur.parent
			}
			continue
		}
		if !cur.isDir() {
			return nil, fmt.Errorf("%w: %s is %s", ErrMalformed, cur.path(), errNotDir)
		}
		child := cur.kids[c]
		if child == nil {
			if !create {
				return nil, fs.ErrNotExist
			}
			child = &node{name: c, parent: cur, kids: map[string]*node{}, mode: fs.ModeDir | 0o755, layer: layer}
			cur.kids[c] = child
			cur = child
			continue
		}
		if child.isSymlink() && (len(parts) > 0 || followLast) {
			hops++
			if hops > maxLinkHops {
				return nil, fmt.Errorf("%w: too many levels of symbolic links at %s", ErrMalformed, child.path())
			}
			if strings.HasPrefix(child.link, "/") {
				cur = f.root
			}
			parts = append(splitPath(child.link), parts...)
			continue
		}
		cur = child
	}
	return cur, nil
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return nil
	}
	return strings.Split(p, "/")
}

func (f *FS) lookup(p string, followLast bool) *node {
	n, err := f.walkPath(p, followLast, false, 0)
	if err != nil {
		return nil
	}
	return n
}

func (f *FS) ensureDir(dir string, layer int32) (*node, error) {
	n, err := f.walkPath(dir, true, true, layer)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, fmt.Errorf("%w: %s is %s", ErrMalformed, n.path(), errNotDir)
	}
	return n, nil
}

func (f *FS) get(op, name string, followLast bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.walkPath(name, followLast, false, 0)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

// Open opens a file or directory, following symlinks.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.get("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return &dirFile{n: n, name: name}, nil
	}
	x := n.extra
	switch {
	case x != nil && x.kept:
		return &regFile{n: n, Reader: bytes.NewReader(x.data)}, nil
	case x != nil && x.tooLarge:
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrTooLarge}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNotSelected}
}

// ReadFile returns a kept file's content; the slice is the caller's.
func (f *FS) ReadFile(name string) ([]byte, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if rf, ok := file.(*regFile); ok {
		return bytes.Clone(rf.n.extra.data), nil
	}
	return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
}

// Stat describes a path, following symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.get("stat", name, true)
	if err != nil {
		return nil, err
	}
	return fileInfo{n}, nil
}

// Lstat describes a path without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.get("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return fileInfo{n}, nil
}

// ReadLink returns a symlink's target as written in the layer.
func (f *FS) ReadLink(name string) (string, error) {
	n, err := f.get("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !n.isSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.link, nil
}

// ReadDir lists a directory sorted by name, following symlinks to it.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.get("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return sortedDirEntries(n), nil
}

func sortedDirEntries(n *node) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, fs.FileInfoToDirEntry(fileInfo{k}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Entry describes a path without following a final symlink.
func (f *FS) Entry(name string) (Entry, bool) {
	n := f.lookup(name, false)
	if n == nil {
		return Entry{}, false
	}
	return f.entry(n, n.path()), true
}

// LayerOf returns the layer that wrote the file a path names, following
// symlinks (the layer of the content, not of a link to it).
func (f *FS) LayerOf(name string) (LayerRef, bool) {
	n := f.lookup(name, true)
	if n == nil {
		return LayerRef{}, false
	}
	return f.layerRef(n.layer), true
}

func (f *FS) layerRef(i int32) LayerRef {
	if int(i) < len(f.layers) {
		return f.layers[i]
	}
	return LayerRef{Index: int(i)}
}

// Layers lists the image's layers, bottom first.
func (f *FS) Layers() []LayerRef { return append([]LayerRef(nil), f.layers...) }

// Problems lists what the walk skipped without failing.
func (f *FS) Problems() []Problem { return append([]Problem(nil), f.problems...) }

func (f *FS) entry(n *node, p string) Entry {
	e := Entry{Path: p, Mode: n.mode, Size: n.size, ModTime: time.Unix(n.mtime, 0).UTC(), UID: n.uid, GID: n.gid,
		HardlinkTo: n.hardTo, Layer: f.layerRef(n.layer)}
	if n.isSymlink() {
		e.Linkname = n.link
	}
	e.Kept = n.extra != nil && n.extra.kept
	return e
}

// Entries lists every path of the final file system (the root excluded)
// in lexical order of path elements, parents before children.
func (f *FS) Entries() []Entry {
	var out []Entry
	var walk func(n *node, p string)
	walk = func(n *node, p string) {
		names := make([]string, 0, len(n.kids))
		for k := range n.kids {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := n.kids[k]
			cp := joinPath(p, k)
			out = append(out, f.entry(c, cp))
			if c.isDir() {
				walk(c, cp)
			}
		}
	}
	walk(f.root, ".")
	return out
}

// Result returns what the named stream returned for the final file at a
// path (not following a final symlink).
func (f *FS) Result(name, stream string) (StreamResult, bool) {
	n := f.lookup(name, false)
	if n == nil || n.extra == nil {
		return StreamResult{}, false
	}
	r, ok := n.extra.results[stream]
	r.Path, r.Layer = n.path(), int(n.layer)
	return r, ok
}

// HiddenResults lists the named stream's results for files that a later
// layer deleted or replaced, for streams with KeepHidden, in the order the
// walk removed them. Such files are gone from the final view but still in
// the image's layers.
func (f *FS) HiddenResults(stream string) []StreamResult {
	var out []StreamResult
	for _, h := range f.hidden {
		if h.stream == stream {
			out = append(out, h.r)
		}
	}
	return out
}

// Results lists the named stream's results for every final file that has
// one, sorted by path. Only the files with a result get their path built:
// most nodes have none.
func (f *FS) Results(stream string) []StreamResult {
	var out []StreamResult
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.kids {
			if c.extra != nil {
				if r, ok := c.extra.results[stream]; ok {
					r.Path, r.Layer = c.path(), int(c.layer)
					out = append(out, r)
				}
			}
			if c.isDir() {
				walk(c)
			}
		}
	}
	walk(f.root)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// RegularFiles calls fn with the path, size and mode of every regular file
// of the final view, the files fs.WalkDir reports as regular (symlinks are
// not followed; a hardlink is the regular file it shares content with), in
// no particular order. It is fs.WalkDir without sorting each directory and
// building a fs.DirEntry per path, for callers that only collect paths
// (catalog.Set.Run, after the walk of an image). An error from fn stops the
// listing and is returned.
func (f *FS) RegularFiles(fn func(p string, size int64, mode fs.FileMode) error) error {
	buf := make([]byte, 0, 256)
	var walk func(n *node, prefix []byte) error
	walk = func(n *node, prefix []byte) error {
		for name, c := range n.kids {
			switch {
			case c.isDir():
				if err := walk(c, append(append(prefix, name...), '/')); err != nil {
					return err
				}
			case c.mode.IsRegular():
				if err := fn(string(append(prefix, name...)), c.size, c.mode); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(f.root, buf)
}

// fileInfo adapts a node to fs.FileInfo.
type fileInfo struct{ n *node }

func (i fileInfo) Name() string {
	if i.n.parent == nil {
		return "."
	}
	return i.n.name
}
func (i fileInfo) Size() int64        { return i.n.size }
func (i fileInfo) Mode() fs.FileMode  { return i.n.mode }
func (i fileInfo) ModTime() time.Time { return time.Unix(i.n.mtime, 0).UTC() }
func (i fileInfo) IsDir() bool        { return i.n.isDir() }
func (i fileInfo) Sys() any           { return nil }

type regFile struct {
	n *node
	*bytes.Reader
}

func (r *regFile) Stat() (fs.FileInfo, error) { return fileInfo{r.n}, nil }
func (r *regFile) Close() error               { return nil }

type dirFile struct {
	n       *node
	name    string
	entries []fs.DirEntry
	off     int
	listed  bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{d.n}, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.listed {
		d.entries = sortedDirEntries(d.n)
		d.listed = true
	}
	rest := d.entries[d.off:]
	if count <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if count > len(rest) {
		count = len(rest)
	}
	d.off += count
	return rest[:count], nil
}

var (
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)
