package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// WalkDir gives a plain directory (an unpacked root file system) the same
// view as an image: one layer, index 0, no digest. The directory is read
// through os.Root, so no symlink inside it can make the walk read a file
// outside it; symlinks are listed and resolved inside the view like an
// image's. Files named ".wh.*" are ordinary files here. The same Limits
// apply, except the decompression limits.
func WalkDir(ctx context.Context, dir string, sel Selector, lim Limits) (*FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", dir, err)
	}
	defer root.Close()
	w := newWalker(sel, lim)
	w.fs.layers = []LayerRef{{Index: 0}}
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		w.entries++
		if w.lim.MaxEntries > 0 && w.entries > w.lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrLimit, w.lim.MaxEntries)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = root.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			// Sockets and other types a tar cannot hold are not part of an image.
			return nil
		}
		hdr.Name = p
		if hdr.Typeflag == tar.TypeLink {
			hdr.Typeflag = tar.TypeReg // each name is read on its own
		}
		r := &lazyFile{root: root, name: p}
		defer r.close()
		return w.apply(0, hdr, r, false)
	})
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", dir, err)
	}
	return w.done(), nil
}

// lazyFile opens a file on its first read, so files nobody selects are
// never opened.
type lazyFile struct {
	root *os.Root
	name string
	f    *os.File
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.f == nil {
		f, err := l.root.Open(l.name)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Read(p)
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

var _ io.Reader = (*lazyFile)(nil)
