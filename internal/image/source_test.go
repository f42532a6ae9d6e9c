package image

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/palisade-sec/palisade/internal/testregistry"
)

// platformImage is a one-layer image whose file "arch" names its platform.
func platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img := imageOf(t, []te{d("etc/"), f("etc/os-release", "ID=debian\n"), f("arch", p.Architecture+p.Variant)})
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

func multiArch(t *testing.T) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{amd64, arm64} {
		adds = append(adds, mutate.IndexAddendum{Add: platformImage(t, p), Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

func readArch(t *testing.T, src *Source) string {
	t.Helper()
	fsys, err := src.FS(context.Background(), SelectAll(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "arch")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenRegistry(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	multi := reg.Host + "/palisade/multi:1"
	ref, _ := name.ParseReference(multi)
	if err := remote.WriteIndex(ref, multiArch(t), remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	rnd, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	single := reg.Host + "/palisade/random:latest"
	sref, _ := name.ParseReference(single)
	if err := remote.Write(sref, rnd, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	allow := []string{reg.Host}
	anon := authn.NewMultiKeychain()

	tests := []struct {
		name, ref, platform string
		insecure            []string
		wantArch            string
		wantErr             string
	}{
		{"arm64 from the index", multi, "linux/arm64", allow, "arm64v8", ""},
		{"arm64 with its variant", multi, "linux/arm64/v8", allow, "arm64v8", ""},
		{"amd64 from the index", multi, "linux/amd64", allow, "amd64", ""},
		{"platform not in the index", multi, "linux/s390x", allow, "", "no image for platform linux/s390x in the index; available: linux/amd64, linux/arm64/v8"},
		{"bad platform", multi, "arm64", allow, "", "want os/arch"},
		{"plain HTTP refused unless allowed", multi, "linux/amd64", nil, "", "plain HTTP is not allowed"},
		{"missing tag", reg.Host + "/palisade/multi:nope", "", allow, "", "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(ctx, tc.ref, Options{Platform: tc.platform, InsecureRegistries: tc.insecure, Keychain: anon})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readArch(t, src); got != tc.wantArch {
				t.Errorf("arch = %q, want %q", got, tc.wantArch)
			}
			if src.IndexDigest == "" || src.Digest == "" || src.Kind != KindRegistry {
				t.Errorf("source = %+v", src)
			}
		})
	}

	t.Run("random layers stream from the registry", func(t *testing.T) {
		src, err := Open(ctx, single, Options{InsecureRegistries: allow, Keychain: anon})
		if err != nil {
			t.Fatal(err)
		}
		fsys, err := src.FS(ctx, SelectAll(), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(fsys.Layers()); n != 3 {
			t.Errorf("%d layers, want 3", n)
		}
		var files int
		for _, e := range fsys.Entries() {
			if e.Mode.IsRegular() {
				files++
				if _, err := fsys.ReadFile(e.Path); err != nil {
					t.Error(err)
				}
			}
		}
		if files != 3 {
			t.Errorf("%d files, want 3 (one per random layer)", files)
		}
	})

	t.Run("explicit platform must match a single image", func(t *testing.T) {
		amdRef := reg.Host + "/palisade/amd64:1"
		r, _ := name.ParseReference(amdRef)
		if err := remote.Write(r, platformImage(t, amd64), remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, amdRef, Options{Platform: "linux/riscv64", InsecureRegistries: allow, Keychain: anon})
		if err == nil || !strings.Contains(err.Error(), "image is for linux/amd64, not linux/riscv64") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestRegistryAuth(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := reg.Host + "/private/app:1"
	r, _ := name.ParseReference(ref)
	good := &authn.Basic{Username: testregistry.User, Password: testregistry.Password}
	if err := remote.Write(r, platformImage(t, amd64), remote.WithContext(ctx), remote.WithAuth(good)); err != nil {
		t.Fatal(err)
	}
	allow := []string{reg.Host}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no credentials", Options{Keychain: authn.NewMultiKeychain()}, "authentication required or credentials rejected for private/app"},
		{"wrong password", Options{Username: testregistry.User, Password: "wrong"}, "authentication required or credentials rejected"},
		{"basic credentials", Options{Username: testregistry.User, Password: testregistry.Password}, ""},
		{"credentials from a Docker config", Options{Keychain: dockerConfigKeychain(t, reg.Host)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.InsecureRegistries = allow
			src, err := Open(ctx, ref, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "wrong") {
					t.Fatalf("error %v, want %q and no password", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readArch(t, src); got != "amd64" {
				t.Errorf("arch = %q", got)
			}
		})
	}
}

// dockerConfigKeychain points the default keychain at a config.json made
// for the test, as `docker login` would write it.
func dockerConfigKeychain(t *testing.T, host string) authn.Keychain {
	dir := t.TempDir()
	cfg := `{"auths":{"` + host + `":{"auth":"` + b64(testregistry.User+":"+testregistry.Password) + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return authn.DefaultKeychain
}

func TestOpenLayout(t *testing.T) {
	ctx := context.Background()
	multiDir := t.TempDir()
	if _, err := layout.Write(multiDir, multiArch(t)); err != nil {
		t.Fatal(err)
	}
	singleDir := t.TempDir()
	lp, err := layout.Write(singleDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(platformImage(t, arm64)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, platform, wantArch, wantErr string
	}{
		{"index by platform", "oci:" + multiDir, "linux/arm64", "arm64v8", ""},
		{"index, other platform", "oci:" + multiDir, "linux/amd64", "amd64", ""},
		{"index, missing platform", "oci:" + multiDir, "linux/ppc64le", "", "available: linux/amd64, linux/arm64/v8"},
		{"single image, default platform", "oci:" + singleDir, "", "arm64v8", ""},
		{"single image, wrong explicit platform", "oci:" + singleDir, "linux/amd64", "", "available: linux/arm64/v8"},
		{"not a layout", "oci:" + t.TempDir(), "", "", "OCI layout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(ctx, tc.ref, Options{Platform: tc.platform})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readArch(t, src); got != tc.wantArch {
				t.Errorf("arch = %q, want %q", got, tc.wantArch)
			}
		})
	}
}

func TestOpenDockerArchive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.tar")
	tag, _ := name.NewTag("example.com/app:1")
	base := imageOf(t, []te{f("etc/os-release", "ID=alpine\n"), f("app", "v1")}, []te{f("app", "v2"), f(".wh.etc", "")})
	if err := tarball.WriteToFile(file, tag, base); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), "docker-archive:"+file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := src.FS(context.Background(), SelectAll(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := render(fsys); got != "app = v2 @1" {
		t.Errorf("final view:\n%s", got)
	}
	if _, err := Open(context.Background(), "docker-archive:"+filepath.Join(t.TempDir(), "none.tar"), Options{}); err == nil {
		t.Error("missing archive: no error")
	}
}

func TestOpenRootFS(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, ".wh.plain"), []byte("not a whiteout here"), 0o644))
	// Links that would escape a naive reader onto the host.
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "abs")))
	must(os.Symlink("../../../../../../../etc/passwd", filepath.Join(dir, "rel")))
	must(os.Symlink("/etc/hostname", filepath.Join(dir, "hostonly")))
	src, err := Open(context.Background(), "rootfs:"+dir, Options{})
	must(err)
	fsys, err := src.FS(context.Background(), SelectAll(), Limits{})
	must(err)
	for _, p := range []string{"abs", "rel", "etc/passwd"} {
		b, err := fs.ReadFile(fsys, p)
		if err != nil || !strings.HasPrefix(string(b), "root:x:0:0::/root") {
			t.Errorf("%s = %q, %v; want the rootfs's own passwd", p, b, err)
		}
	}
	if _, err := fs.ReadFile(fsys, "hostonly"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hostonly: %v; want not found (the host's /etc/hostname must not be read)", err)
	}
	if b, err := fs.ReadFile(fsys, ".wh.plain"); err != nil || string(b) != "not a whiteout here" {
		t.Errorf(".wh.plain = %q, %v", b, err)
	}
	if _, err := Open(context.Background(), "rootfs:"+filepath.Join(dir, "etc/passwd"), Options{}); err == nil {
		t.Error("rootfs of a file: no error")
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		rest string
	}{
		{"alpine:3.20", KindRegistry, "alpine:3.20"},
		{"registry:alpine", KindRegistry, "alpine"},
		{"oci:/tmp/x", KindOCILayout, "/tmp/x"},
		{"docker-archive:a.tar", KindDockerArchive, "a.tar"},
		{"rootfs:/mnt/root", KindRootFS, "/mnt/root"},
		{"localhost:5000/app", KindRegistry, "localhost:5000/app"},
	}
	for _, tc := range tests {
		if k, r := ParseRef(tc.in); k != tc.kind || r != tc.rest {
			t.Errorf("ParseRef(%q) = %s, %q", tc.in, k, r)
		}
	}
}

// TestOpenLocalPathAsRegistry: a plain reference that names a local file
// or directory ("./app.tar", "/tmp/layout", "app.tar") is refused before any
// registry is contacted, with the prefix that would read it. Before, it was
// sent to a registry named "." or to Docker Hub, and the error named a DNS
// failure, not the user's mistake.
func TestOpenLocalPathAsRegistry(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(archive, []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	ocidir := filepath.Join(dir, "layout")
	if err := os.MkdirAll(ocidir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ocidir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rootdir := filepath.Join(dir, "root")
	if err := os.MkdirAll(rootdir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		ref  string
		want string
	}{
		{"./app.tar", "docker-archive:./app.tar"},
		{archive, "docker-archive:" + archive},
		{"app.tar", "docker-archive:app.tar"},
		{"./layout", "oci:./layout"},
		{ocidir, "oci:" + ocidir},
		{"./root", "rootfs:./root"},
		{"../missing.tar", "docker-archive:../missing.tar"},
		{"/no/such/dir", "is a local path"},
		{"registry:./app.tar", "is a local path"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			// A registry would be dialled (and time out) if the
			// reference got through; the bound keeps a regression short.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Open(ctx, tc.ref, Options{Keychain: authn.NewMultiKeychain()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v; want an error naming %q", tc.ref, err, tc.want)
			}
		})
	}
}
