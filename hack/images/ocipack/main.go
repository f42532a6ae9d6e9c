// Command ocipack packs a root file system directory as an OCI image
// layout with one gzip layer, the way hack/images/debian-bookworm.sh
// turns a debootstrap tree into a test image.
//
//	go run ./hack/images/ocipack [-platform linux/amd64] [-ref NAME] DIR OUT
//
// Files are written in lexical order with their owner, mode and time;
// hardlinks stay hardlinks; sockets are left out.
package main

import (
	"archive/tar"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

func main() {
	platform := flag.String("platform", "linux/amd64", "platform recorded in the image config")
	ref := flag.String("ref", "", "org.opencontainers.image.ref.name annotation")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: ocipack [-platform os/arch] [-ref NAME] DIR OUT")
		os.Exit(2)
	}
	if err := pack(flag.Arg(0), flag.Arg(1), *platform, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "ocipack:", err)
		os.Exit(1)
	}
}

func pack(dir, out, platform, ref string) error {
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "ocipack-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw, err := gzip.NewWriterLevel(tmp, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := writeTar(zw, dir); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromFile(tmp.Name(), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"bash"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	lp, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
	}
	opts = append(opts, layout.WithPlatform(*p))
	return lp.AppendImage(img, opts...)
}

// writeTar writes dir as a tar stream with paths relative to it.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	seen := map[uint64]string{} // inode -> first path, for hardlinks
	var walk func(rel string) error
	walk = func(rel string) error {
		full := filepath.Join(dir, rel)
		entries, err := os.ReadDir(full)
		if err != nil {
			return err
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			p := filepath.Join(rel, e.Name())
			info, err := os.Lstat(filepath.Join(dir, p))
			if err != nil {
				return err
			}
			if info.Mode()&fs.ModeSocket != 0 {
				continue
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(filepath.Join(dir, p)); err != nil {
					return err
				}
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			hdr.Name = filepath.ToSlash(p)
			hdr.Uname, hdr.Gname = "", ""
			hdr.Format = tar.FormatPAX
			if info.IsDir() {
				hdr.Name += "/"
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().IsRegular() && st.Nlink > 1 {
				if first, ok := seen[st.Ino]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					seen[st.Ino] = hdr.Name
				}
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if hdr.Typeflag == tar.TypeReg {
				f, err := os.Open(filepath.Join(dir, p))
				if err != nil {
					return err
				}
				_, err = io.Copy(tw, f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			if info.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return err
	}
	return tw.Close()
}
