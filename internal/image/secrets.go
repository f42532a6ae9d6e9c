package image

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/secret"
)

// SecretStream names the stream whose results SecretFindings reads.
const SecretStream = "image-secrets"

// SecretRulePrefix starts the rule ID of every image secret finding:
// "image-secret/<kind>", kind being internal/secret's Match.Kind or one of
// the credential-file kinds of this package.
const SecretRulePrefix = "image-secret/"

// SecretOptions tune secret scanning. The zero value is usable.
type SecretOptions struct {
	// MaxFileSize is the largest file scanned; 0 means 1 MiB. Credential
	// files at well-known paths are scanned up to 4 times this size.
	MaxFileSize int64
	// SkipDirs are image directories not scanned (documentation, locales,
	// time zones, headers ...); nil means DefaultSecretSkipDirs. Well-known
	// credential paths are scanned wherever they are.
	SkipDirs []string
}

// DefaultSecretSkipDirs are directories of distribution files that hold no
// credentials of the image's owner and are large enough to slow a scan.
func DefaultSecretSkipDirs() []string {
	return []string{
		"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/i18n",
		"usr/share/zoneinfo", "usr/share/common-licenses", "usr/share/perl", "usr/share/perl5",
		"usr/lib/locale", "usr/include", "usr/share/X11", "usr/share/terminfo", "usr/share/mime",
		"usr/share/lintian", "var/lib/dpkg/info", "proc", "sys", "dev",
	}
}

// skipDirNames are directory names skipped wherever they are: language
// runtimes' own libraries, whose code and tests are full of sample
// passwords ("usr/lib/x86_64-linux-gnu/perl-base", "usr/lib/python3.11").
func skipDirName(p string) bool {
	for _, seg := range strings.Split(path.Dir(p), "/") {
		switch {
		case seg == "perl-base", seg == "perl5",
			strings.HasPrefix(seg, "python3.") && strings.HasPrefix(p, "usr/lib/"):
			return true
		}
	}
	return false
}

// binaryExts are skipped without reading: compressed, compiled or media files.
var binaryExts = map[string]bool{
	".so": true, ".a": true, ".o": true, ".gz": true, ".xz": true, ".bz2": true, ".zst": true, ".zip": true,
	".jar": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".mo": true,
	".pyc": true, ".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".wasm": true, ".deb": true,
}

// credentialFile is a well-known place for credentials, with the kind of
// finding a credential there gets when internal/secret's detectors do not
// recognise its syntax.
type credentialFile struct {
	// match reports whether an image path is this kind of file.
	match func(p, base string) bool
	// extract finds credentials in the file's own syntax.
	extract func(data []byte) []secret.Match
}

var credentialFiles = []credentialFile{
	{match: suffix(".docker/config.json"), extract: dockerConfigAuths},
	{match: suffix(".netrc"), extract: netrcPasswords},
	{match: func(p, base string) bool { return base == "_netrc" }, extract: netrcPasswords},
	{match: suffix(".kube/config"), extract: kubeconfigKeys},
	{match: suffix(".aws/credentials")},
	{match: suffix(".aws/config")},
	{match: suffix(".npmrc")},
	{match: suffix(".pypirc")},
	{match: suffix(".git-credentials")},
	{match: suffix(".config/gh/hosts.yml")},
	{match: suffix(".config/gcloud/application_default_credentials.json")},
	{match: suffix(".azure/accessTokens.json")},
	{match: func(_, base string) bool {
		switch base {
		case "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", ".env", ".pgpass", ".my.cnf":
			return true
		}
		ext := path.Ext(base)
		return ext == ".pem" || ext == ".key" || ext == ".p8" || ext == ".ppk"
	}},
}

func suffix(s string) func(p, base string) bool {
	return func(p, _ string) bool { return p == s || strings.HasSuffix(p, "/"+s) }
}

func wellKnown(p string) (credentialFile, bool) {
	base := path.Base(p)
	for _, c := range credentialFiles {
		if c.match(p, base) {
			return c, true
		}
	}
	return credentialFile{}, false
}

// SecretHit is one credential found in one file, as the secret stream
// returns it; Masked never holds the whole value.
type SecretHit struct {
	Kind        string
	Description string
	Line        int
	Masked      string
}

// SecretSelector streams text files (no NUL byte) up to the size cap, and
// every file at a well-known credential path, through internal/secret.
// Files deleted by a later layer are scanned too and reported by
// SecretFindings: the bytes are still in the image. Combine it with the
// catalogers' selector for a single pass.
func SecretSelector(opts SecretOptions) Selector {
	max := opts.MaxFileSize
	if max <= 0 {
		max = 1 << 20
	}
	skip := opts.SkipDirs
	if skip == nil {
		skip = DefaultSecretSkipDirs()
	}
	return func(p string, hdr *tar.Header) Want {
		cf, known := wellKnown(p)
		limit := max
		if known {
			limit = 4 * max
		} else {
			if hdr.Size > max || binaryExts[path.Ext(p)] || hdr.Size == 0 {
				return Want{}
			}
			if skipDirName(p) {
				return Want{}
			}
			for _, d := range skip {
				if p == d || strings.HasPrefix(p, d+"/") {
					return Want{}
				}
			}
		}
		if hdr.Size > limit {
			return Want{}
		}
		return Want{Streams: []Stream{{Name: SecretStream, KeepHidden: true, Encode: secretEncode, Decode: secretDecode, Read: func(_ string, r io.Reader) (any, error) {
			return scanSecretFile(r, limit, cf.extract)
		}}}}
	}
}

// secretEncode and secretDecode keep secret hits in a LayerCache.
var secretEncode, secretDecode = JSONCodec[[]SecretHit]()

// secretFileBuffers recycles the buffers scanSecretFile reads files into.
// io.ReadAll grew a new buffer for each of the thousands of text files of
// an image (73 MB allocated for the bookworm image's 51 MB layer); the
// hits never alias the buffer (their strings are copies), so it can be
// reused. Buffers over 1 MiB (well-known credential files may be up to
// four times the size cap) are not kept.
var secretFileBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// readLimited reads r to its end, but at most limit bytes, into buf's
// storage, growing it as io.ReadAll does: what io.ReadAll(io.LimitReader(r,
// limit)) returns, without a new buffer per file.
func readLimited(r io.Reader, limit int64, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := len(buf) + int(min(int64(cap(buf)-len(buf)), limit-int64(len(buf))))
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// scanSecretFile reads one file and returns its hits, nil for a binary.
func scanSecretFile(r io.Reader, limit int64, extract func([]byte) []secret.Match) ([]SecretHit, error) {
	bp := secretFileBuffers.Get().(*[]byte)
	data, err := readLimited(r, limit, *bp)
	defer func() {
		if cap(data) <= 1<<20 {
			*bp = data[:0]
			secretFileBuffers.Put(bp)
		}
	}()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, nil
	}
	ms := secret.ScanText(data)
	if extract != nil {
		seen := map[string]bool{}
		for _, m := range ms {
			seen[m.Masked] = true
		}
		for _, m := range extract(data) {
			if !seen[m.Masked] {
				ms = append(ms, m)
			}
		}
	}
	var out []SecretHit
	for _, m := range ms {
		out = append(out, SecretHit{Kind: m.Kind, Description: m.Description, Line: m.Line, Masked: m.Masked})
	}
	return out, nil
}

// dockerConfigAuths finds the base64 user:password of `docker login` and
// identity tokens in a Docker config.json.
func dockerConfigAuths(data []byte) []secret.Match {
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return nil
	}
	hosts := make([]string, 0, len(cfg.Auths))
	for h := range cfg.Auths {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var out []secret.Match
	for _, h := range hosts {
		a := cfg.Auths[h]
		for _, v := range []string{a.Auth, a.Password, a.IdentityToken} {
			if v == "" {
				continue
			}
			if v == a.Auth {
				if dec, err := base64.StdEncoding.DecodeString(v); err != nil || !strings.Contains(string(dec), ":") {
					continue
				}
			}
			out = append(out, secret.Match{Kind: "docker-registry-auth", Description: "registry credentials for " + h + " in a Docker config",
				Line: lineOf(data, v), Masked: secret.Mask(v)})
		}
	}
	return out
}

var netrcPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)(?:^|\s)password\s+(\S+)`) })

func netrcPasswords(data []byte) []secret.Match {
	var out []secret.Match
	for _, m := range netrcPassword().FindAllSubmatchIndex(data, secret.MaxMatches) {
		v := string(data[m[2]:m[3]])
		if secret.IsPlaceholder(v) {
			continue
		}
		out = append(out, secret.Match{Kind: "netrc-password", Description: "password in a .netrc file",
			Line: 1 + bytes.Count(data[:m[2]], []byte("\n")), Masked: secret.Mask(v)})
	}
	return out
}

var kubeKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*(?:client-key-data|token|password):\s*["']?([^\s"']{8,})`)
})

func kubeconfigKeys(data []byte) []secret.Match {
	var out []secret.Match
	for _, m := range kubeKey().FindAllSubmatchIndex(data, secret.MaxMatches) {
		v := string(data[m[2]:m[3]])
		if secret.IsPlaceholder(v) {
			continue
		}
		out = append(out, secret.Match{Kind: "kubeconfig-credential", Description: "client key, token or password in a kubeconfig",
			Line: 1 + bytes.Count(data[:m[2]], []byte("\n")), Masked: secret.Mask(v)})
	}
	return out
}

func lineOf(data []byte, v string) int {
	i := bytes.Index(data, []byte(v))
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(data[:i], []byte("\n"))
}

// secretRule is the metadata of one image-secret rule.
type secretRule struct {
	kind     string
	severity finding.Severity
	title    string
}

// secretRules lists every kind the scan can report. Private keys and keys
// that grant cloud access on their own are critical; tokens and registry
// credentials high; generic assignments, JWTs and URL passwords medium,
// as they are more often test values.
var secretRules = []secretRule{
	{"private-key", finding.SeverityCritical, "Private key in the image"},
	{"gcp-service-account-key", finding.SeverityCritical, "GCP service account key in the image"},
	{"aws-secret-access-key", finding.SeverityCritical, "AWS secret access key in the image"},
	{"azure-storage-key", finding.SeverityCritical, "Azure storage account key in the image"},
	{"aws-access-key-id", finding.SeverityHigh, "AWS access key ID in the image"},
	{"github-token", finding.SeverityHigh, "GitHub token in the image"},
	{"gitlab-token", finding.SeverityHigh, "GitLab token in the image"},
	{"slack-token", finding.SeverityHigh, "Slack token in the image"},
	{"slack-webhook", finding.SeverityHigh, "Slack webhook URL in the image"},
	{"stripe-key", finding.SeverityHigh, "Stripe API key in the image"},
	{"npm-token", finding.SeverityHigh, "npm token in the image"},
	{"docker-registry-auth", finding.SeverityHigh, "Registry credentials in a Docker config in the image"},
	{"kubeconfig-credential", finding.SeverityHigh, "Kubernetes credentials in a kubeconfig in the image"},
	{"netrc-password", finding.SeverityHigh, "Password in a .netrc file in the image"},
	{"azure-sas-token", finding.SeverityMedium, "Azure shared access signature in the image"},
	{"jwt", finding.SeverityMedium, "JSON Web Token in the image"},
	{"url-credentials", finding.SeverityMedium, "Password in a URL in the image"},
	{"password-assignment", finding.SeverityMedium, "Password in a file of the image"},
	{"secret-assignment", finding.SeverityMedium, "Secret or token in a file of the image"},
}

const secretRemediation = "Remove the credential from the image and rotate it: anyone who can pull the image can read it. " +
	"Deleting the file in a later layer does not help, the layer that added it still holds it. " +
	"Pass credentials at run time (Kubernetes Secrets, a secret manager) or as build secrets (RUN --mount=type=secret)."

func ruleFor(kind string) secretRule {
	for _, r := range secretRules {
		if r.kind == kind {
			return r
		}
	}
	return secretRule{kind: kind, severity: finding.SeverityMedium, title: "Credential in the image"}
}

// SecretRules describes every image-secret rule, for reports that carry
// rule metadata.
func SecretRules() []finding.RuleInfo {
	out := make([]finding.RuleInfo, 0, len(secretRules))
	for _, r := range secretRules {
		out = append(out, finding.RuleInfo{
			ID: SecretRulePrefix + r.kind, Title: r.title, Severity: r.severity,
			Description: "A credential (" + r.kind + ") is stored in a file of the container image.",
			Remediation: secretRemediation,
			References: []finding.Reference{
				{Title: "Edge whitepaper 6.2: secrets must never be baked into images"},
				{Title: "OCI image spec: layers", URL: "https://github.com/opencontainers/image-spec/blob/main/layer.md"},
			},
			Tags: []string{"image", "secret"},
		})
	}
	return out
}

// SecretFindings turns the secret stream's results into findings about
// image (its reference, the finding's object name): one per credential,
// with the file, line, layer and masked value, for files of the final view
// and for files an upper layer deleted or replaced.
func SecretFindings(fsys *FS, image string) []finding.Finding {
	var out []finding.Finding
	add := func(r StreamResult) {
		hits, _ := r.Value.([]SecretHit)
		layer := fsys.layerRef(int32(r.Layer))
		for _, h := range hits {
			rule := ruleFor(h.Kind)
			where := fmt.Sprintf("/%s, added by %s", r.Path, layer)
			if r.Hidden {
				where = fmt.Sprintf("/%s, added by %s and deleted or replaced later (still in that layer)", r.Path, layer)
			}
			out = append(out, finding.Finding{
				RuleID:      SecretRulePrefix + rule.kind,
				Severity:    rule.severity,
				Title:       rule.title,
				Message:     fmt.Sprintf("%s in %s: %s", h.Description, where, h.Masked),
				Object:      finding.ObjectRef{Kind: "Image", Name: image},
				File:        "/" + r.Path,
				Line:        h.Line,
				Remediation: secretRemediation,
			})
		}
	}
	for _, r := range fsys.Results(SecretStream) {
		add(r)
	}
	for _, r := range fsys.HiddenResults(SecretStream) {
		add(r)
	}
	finding.Sort(out)
	return out
}
