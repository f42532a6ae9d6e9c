package image

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/palisade-sec/palisade/internal/finding"
)

func TestSecretFindings(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	// Secrets are assembled at run time so that no scanner mistakes this
	// file for a leak.
	awsSecret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "R3alS3cret"
	ghToken := "ghp_" + strings.Repeat("aB3dE5", 6)
	regPass := "palisade:" + "r3gistry-Pa55"
	netrcPass := "n3trc-" + "Pa55word"
	appPass := "hunter2" + "hunter2"
	dockerCfg := `{"auths":{"registry.example.com":{"auth":"` + b64(regPass) + `"}}}`

	img := imageOf(t,
		[]te{
			f("root/.aws/credentials", "[default]\naws_access_key_id = AKIAQ7RZ2WQMBUSY3PTL\naws_secret_access_key = "+awsSecret+"\n"),
			f("home/app/.docker/config.json", dockerCfg),
			f("home/app/.netrc", "machine git.example.com\n  login bot\n  password "+netrcPass+"\n"),
			f("etc/ssl/private/server.key", pemKey),
			f("usr/share/doc/tool/README", "token: "+ghToken+"\n"),
			f("usr/bin/tool", "\x7fELF\x00\x00"+ghToken),
			f("srv/app/config.yml", "db:\n  host: db\n  password: "+appPass+"\n"),
			f("srv/app/example.env", "API_KEY=changeme\n"),
		},
		[]te{f("etc/ssl/private/.wh.server.key", "")},
	)
	fsys, err := Walk(context.Background(), img, Combine(SelectPaths("etc/os-release"), SecretSelector(SecretOptions{})), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := SecretFindings(fsys, "example.com/app:1")
	type key struct{ rule, file string }
	want := map[key]finding.Severity{
		{"image-secret/aws-access-key-id", "/root/.aws/credentials"}:           finding.SeverityHigh,
		{"image-secret/aws-secret-access-key", "/root/.aws/credentials"}:       finding.SeverityCritical,
		{"image-secret/docker-registry-auth", "/home/app/.docker/config.json"}: finding.SeverityHigh,
		{"image-secret/netrc-password", "/home/app/.netrc"}:                    finding.SeverityHigh,
		{"image-secret/private-key", "/etc/ssl/private/server.key"}:            finding.SeverityCritical,
		{"image-secret/password-assignment", "/srv/app/config.yml"}:            finding.SeverityMedium,
	}
	seen := map[key]bool{}
	for _, g := range got {
		k := key{g.RuleID, g.File}
		sev, ok := want[k]
		if !ok {
			t.Errorf("unexpected finding %s %s: %s", g.RuleID, g.File, g.Message)
			continue
		}
		seen[k] = true
		if g.Severity != sev || g.Object.Kind != "Image" || g.Object.Name != "example.com/app:1" || g.Line == 0 {
			t.Errorf("%s: %+v", g.RuleID, g)
		}
		if !strings.Contains(g.Message, "layer 0 (sha256:") {
			t.Errorf("%s: message does not name the layer: %s", g.RuleID, g.Message)
		}
		if g.File == "/etc/ssl/private/server.key" && !strings.Contains(g.Message, "deleted or replaced later") {
			t.Errorf("deleted key: message should say it is still in its layer: %s", g.Message)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("missing finding %s in %s", k.rule, k.file)
		}
	}
	out, _ := json.Marshal(got)
	body := pemKey[strings.Index(pemKey, "\n")+1 : strings.Index(pemKey, "\n")+30]
	for _, s := range []string{awsSecret, ghToken, b64(regPass), regPass, netrcPass, appPass, body} {
		if strings.Contains(string(out), s) {
			t.Errorf("a finding carries the unmasked secret %.6s...", s)
		}
	}
	if !strings.Contains(string(out), "****") {
		t.Error("no masked value in the findings")
	}
	ids := map[string]bool{}
	for _, r := range SecretRules() {
		ids[r.ID] = true
	}
	for _, g := range got {
		if !ids[g.RuleID] {
			t.Errorf("rule %s missing from SecretRules", g.RuleID)
		}
	}
}

func TestSecretSelectorScope(t *testing.T) {
	sel := SecretSelector(SecretOptions{MaxFileSize: 100})
	tests := []struct {
		path string
		size int64
		want bool
	}{
		{"srv/app/settings.py", 50, true},
		{"srv/app/big.txt", 101, false},
		{"root/.ssh/id_rsa", 300, true}, // well-known paths get 4x the cap
		{"root/.ssh/id_rsa", 500, false},
		{"usr/share/doc/x/README", 10, false},
		{"usr/lib/x86_64-linux-gnu/libc.so", 10, false},
		{"home/u/.kube/config", 200, true},
		{"etc/empty", 0, false},
	}
	for _, tc := range tests {
		w := sel(tc.path, &tarHeader{Size: tc.size})
		if got := len(w.Streams) > 0; got != tc.want {
			t.Errorf("%s (%d bytes): scanned = %v, want %v", tc.path, tc.size, got, tc.want)
		}
	}
}

// TestReadLimited checks readLimited against what it replaces,
// io.ReadAll(io.LimitReader(r, limit)), for sizes around the limit and the
// buffer's capacity, readers that return data one byte at a time or with
// io.EOF, and a failing reader; and that a reused buffer never leaks the
// previous file's bytes.
func TestReadLimited(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 300) // 4800 bytes
	readers := map[string]func([]byte) io.Reader{
		"plain":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"fails": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(errors.New("disk gone")))
		},
	}
	stale := bytes.Repeat([]byte{'X'}, 8192)
	for name, mk := range readers {
		for _, size := range []int{0, 1, 100, 1023, 1024, 1025, 2048, 4800} {
			for _, limit := range []int64{0, 1, 1024, 1025, 4799, 4800, 1 << 20} {
				for _, capacity := range []int{0, 1, 1024, 8192} {
					want, wantErr := io.ReadAll(io.LimitReader(mk(data[:size]), limit))
					buf := append(make([]byte, 0, capacity), stale[:capacity]...)
					got, err := readLimited(mk(data[:size]), limit, buf)
					if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
						t.Errorf("%s, %d bytes, limit %d, capacity %d: got %d bytes (%v), want %d (%v)", name, size, limit, capacity, len(got), err, len(want), wantErr)
					}
				}
			}
		}
	}
}

// FuzzReadLimited is TestReadLimited over arbitrary contents, limits,
// buffer capacities and read sizes: readLimited must return what
// io.ReadAll(io.LimitReader(r, limit)) does.
func FuzzReadLimited(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, capacity uint16, chunk uint8) {
		mk := func() io.Reader {
			if chunk == 0 {
				return bytes.NewReader(data)
			}
			return &chunkReader{r: bytes.NewReader(data), n: int(chunk)}
		}
		want, wantErr := io.ReadAll(io.LimitReader(mk(), int64(limit)))
		got, err := readLimited(mk(), int64(limit), bytes.Repeat([]byte{'X'}, int(capacity)))
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes, limit %d, capacity %d, chunk %d: got %q (%v), want %q (%v)", len(data), limit, capacity, chunk, got, err, want, wantErr)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r *bytes.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}
