package vulndb

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Source is a downloadable archive of OSV records: a zip of JSON files, as
// OSV publishes per ecosystem (https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip).
type Source struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// SHA256, when set, is the expected SHA-256 of the archive (hex).
	SHA256 string `json:"sha256,omitempty"`
	// ChecksumURL, when set, serves the archive's SHA-256 as the first
	// field of its body (the format of sha256sum).
	ChecksumURL string `json:"checksumURL,omitempty"`
	// Format is the source's format (see Formats); "" is the one FormatOf
	// the name implies.
	Format string `json:"format,omitempty"`
}

// OSVExportBase is where OSV publishes its per-ecosystem exports.
const OSVExportBase = "https://osv-vulnerabilities.storage.googleapis.com/"

// OSVSource is the OSV export of one ecosystem.
func OSVSource(ecosystem string) Source {
	return Source{Name: ecosystem, URL: OSVExportBase + url.PathEscape(ecosystem) + "/all.zip"}
}

// DefaultEcosystems are the ecosystems `palisade db update` downloads when
// no source is configured: the OS distributions and language ecosystems
// the image catalogers find. OSV's Go export carries the Go vulnerability
// database's GO- records.
var DefaultEcosystems = []string{"Debian", "Ubuntu", "Alpine", "Red Hat", "Go", "PyPI", "npm", "Maven",
	"RubyGems", "NuGet", "Packagist", "Pub", "SwiftURL", "crates.io", "Hex"}

// DefaultSources are the OSV exports of DefaultEcosystems.
func DefaultSources() []Source {
	out := make([]Source, 0, len(DefaultEcosystems))
	for _, e := range DefaultEcosystems {
		out = append(out, OSVSource(e))
	}
	return out
}

// Where the enrichment sources publish (see cve.go and debian.go).
const (
	NVDFeedBase      = "https://nvd.nist.gov/feeds/json/cve/2.0/"
	KEVURL           = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	EPSSURL          = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
	DebianTrackerURL = "https://security-tracker.debian.org/tracker/data/json"
	// OracleOVALURL is every ELSA advisory as OVAL.
	OracleOVALURL = "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2"
	// AzureLinuxOVALBase holds Microsoft's OVAL per Azure Linux and
	// CBL-Mariner release.
	AzureLinuxOVALBase = "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main/"
	// PhotonCVEBase holds Photon OS's CVE metadata per release.
	PhotonCVEBase = "https://packages.vmware.com/photon/photon_cve_metadata/"
)

// EnrichmentSource returns the published location of an enrichment
// or vendor source named alone: "kev", "epss", "debian-tracker",
// "ubuntu-tracker", "redhat-cpe", "oval-oracle", "oval-azurelinux-3.0",
// "oval-mariner-2.0", "photon-5.0", "alas-2" and "alas-2023" (Amazon
// Linux's mirror lists, alasmirror.go), and NVD's feeds
// "nvd-2024" (a year), "nvd-modified" and "nvd-recent".
func EnrichmentSource(name string) (Source, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case FormatKEV:
		return Source{Name: n, URL: KEVURL, Format: FormatKEV}, true
	case FormatEPSS:
		return Source{Name: n, URL: EPSSURL, Format: FormatEPSS}, true
	case FormatDebianTracker:
		return Source{Name: n, URL: DebianTrackerURL, Format: FormatDebianTracker}, true
	case FormatUbuntuTracker:
		return Source{Name: n, URL: UbuntuTrackerURL, Format: FormatUbuntuTracker}, true
	case "oval-oracle":
		return Source{Name: n, URL: OracleOVALURL, Format: FormatOVAL}, true
	case FormatRedHatCPE:
		return Source{Name: n, URL: RedHatRepositoryCPEURL, Format: FormatRedHatCPE}, true
	}
	if rel, ok := strings.CutPrefix(n, "oval-azurelinux-"); ok && rel != "" && strings.Trim(rel, "0123456789.") == "" {
		return Source{Name: n, URL: AzureLinuxOVALBase + "azurelinux-" + rel + "-oval.xml", Format: FormatOVAL}, true
	}
	if rel, ok := strings.CutPrefix(n, "oval-mariner-"); ok && rel != "" && strings.Trim(rel, "0123456789.") == "" {
		return Source{Name: n, URL: AzureLinuxOVALBase + "cbl-mariner-" + rel + "-oval.xml", Format: FormatOVAL}, true
	}
	if rel, ok := strings.CutPrefix(n, "photon-"); ok && rel != "" && strings.Trim(rel, "0123456789.") == "" {
		return Source{Name: n, URL: PhotonCVEBase + "cve_data_photon" + rel + ".json", Format: FormatPhoton}, true
	}
	switch n {
	case "alas-2":
		return Source{Name: n, URL: AmazonLinux2MirrorList, Format: FormatALAS}, true
	case "alas-2023":
		return Source{Name: n, URL: AmazonLinux2023MirrorList, Format: FormatALAS}, true
	}
	if feed, ok := strings.CutPrefix(n, "nvd-"); ok {
		if feed == "modified" || feed == "recent" || (len(feed) == 4 && strings.Trim(feed, "0123456789") == "") {
			return Source{Name: n, URL: NVDFeedBase + "nvdcve-2.0-" + feed + ".json.gz", Format: FormatNVD}, true
		}
	}
	return Source{}, false
}

// ParseSource reads a source given as NAME=URL, as an enrichment source
// named alone (EnrichmentSource), or as an ecosystem name alone for its
// OSV export. The format of a NAME=URL source is the one FormatOf the
// name implies.
func ParseSource(s string) (Source, error) {
	name, u, ok := strings.Cut(s, "=")
	if !ok {
		if strings.Contains(s, "://") {
			return Source{}, fmt.Errorf("source %q: want NAME=URL or an ecosystem name", s)
		}
		if src, ok := EnrichmentSource(s); ok {
			return src, nil
		}
		return OSVSource(strings.TrimSpace(s)), nil
	}
	name, u = strings.TrimSpace(name), strings.TrimSpace(u)
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return Source{}, fmt.Errorf("source %q: %q is not an http(s) URL", name, u)
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return Source{}, fmt.Errorf("source %q: empty name", s)
	}
	return Source{Name: name, URL: u, Format: FormatOf(name)}, nil
}

// DefaultMaxDownload caps one archive download (OSV's largest export is a
// few hundred megabytes).
const DefaultMaxDownload = 4 << 30

// UpdateOptions configure Update.
type UpdateOptions struct {
	// Sources to download; DefaultSources when empty.
	Sources []Source
	// Client makes the requests; nil means a client with a 10 minute timeout.
	Client *http.Client
	// MaxDownload caps each archive; 0 means DefaultMaxDownload.
	MaxDownload int64
	// Now is the clock; nil means time.Now.
	Now       func() time.Time
	UserAgent string
}

// SourceResult reports one source of an update.
type SourceResult struct {
	Name string `json:"name"`
	// NotModified is true when the server answered 304 (or sent the same
	// bytes again) and the records were kept from the previous database.
	NotModified bool     `json:"notModified"`
	Downloaded  int64    `json:"downloaded"`
	Records     int      `json:"records"`
	CVEs        int      `json:"cves,omitempty"`
	Skipped     int      `json:"skipped"`
	Withdrawn   int      `json:"withdrawn"`
	Errors      []string `json:"errors,omitempty"`
}

// UpdateResult reports an update.
type UpdateResult struct {
	Sources  []SourceResult `json:"sources"`
	Metadata Metadata       `json:"metadata"`
}

// Update downloads every source with a conditional request, verifies it,
// and swaps in a database built from the new archives, the unchanged
// sources of the previous database and its imported (file) sources.
// Sources of the previous database that are no longer configured are
// dropped. If any source fails, Update returns an error and the previous
// database is left untouched.
func (c Cache) Update(ctx context.Context, opts UpdateOptions) (*UpdateResult, error) {
	if len(opts.Sources) == 0 {
		opts.Sources = DefaultSources()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if opts.MaxDownload <= 0 {
		opts.MaxDownload = DefaultMaxDownload
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	seen := map[string]bool{}
	for i, s := range opts.Sources {
		if seen[s.Name] {
			return nil, fmt.Errorf("update: source %q configured twice", s.Name)
		}
		seen[s.Name] = true
		if s.Format == "" {
			opts.Sources[i].Format = FormatOf(s.Name)
		}
		if !ValidFormat(opts.Sources[i].Format) {
			return nil, fmt.Errorf("update: source %q: unknown format %q (want one of %s)", s.Name, s.Format, strings.Join(Formats, ", "))
		}
	}
	old := c.openOld(ctx)
	previous := map[string]SourceState{}
	if old != nil {
		defer old.Close()
		for _, s := range old.meta.Sources {
			previous[s.Name] = s
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.DBPath()), 0o755); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(c.DBPath()), ".download-")
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer os.RemoveAll(tmpDir)

	now := opts.Now()
	var inputs []buildInput
	for _, s := range opts.Sources {
		prev, hasPrev := previous[s.Name]
		if hasPrev && (prev.Location != s.URL || formatOrOSV(prev.Format) != s.Format) {
			hasPrev = false // moved or reformatted: fetch unconditionally
		}
		var path string
		var state SourceState
		var err error
		if s.Format == FormatALAS && isMirrorList(s.URL) {
			path, state, err = fetchMirrored(ctx, opts, s, prev, hasPrev, tmpDir)
		} else {
			path, state, err = fetch(ctx, opts, s, prev, hasPrev, tmpDir)
		}
		if err != nil {
			return nil, fmt.Errorf("update: source %s (%s): %w", s.Name, s.URL, err)
		}
		state.Checked = now
		if path == "" {
			inputs = append(inputs, buildInput{state: state})
			continue
		}
		state.Fetched = now
		inputs = append(inputs, buildInput{state: state, path: path})
	}
	for _, s := range previousFileSources(old) {
		if !seen[s.Name] {
			inputs = append(inputs, buildInput{state: s})
		}
	}
	meta, stats, err := c.rebuild(ctx, old, inputs, now)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	res := &UpdateResult{Metadata: meta}
	for i, in := range inputs {
		if in.state.Kind != KindURL {
			continue
		}
		sr := SourceResult{Name: in.state.Name, NotModified: in.path == "", Skipped: stats[i].skipped,
			Withdrawn: stats[i].withdrawn, Errors: stats[i].errors}
		for _, s := range meta.Sources {
			if s.Name == in.state.Name {
				sr.Records, sr.CVEs = s.Records, s.CVEs
			}
		}
		if in.path != "" {
			if fi, err := os.Stat(in.path); err == nil {
				sr.Downloaded = fi.Size()
			}
		}
		res.Sources = append(res.Sources, sr)
	}
	return res, nil
}

func formatOrOSV(f string) string {
	if f == "" {
		return FormatOSV
	}
	return f
}

func previousFileSources(old *DB) []SourceState {
	if old == nil {
		return nil
	}
	var out []SourceState
	for _, s := range old.meta.Sources {
		if s.Kind == KindFile {
			out = append(out, s)
		}
	}
	return out
}

// fetch downloads one source. It returns the archive's path, or "" when the
// previous records still hold (304 Not Modified, or the same SHA-256).
func fetch(ctx context.Context, opts UpdateOptions, s Source, prev SourceState, hasPrev bool, dir string) (string, SourceState, error) {
	state := SourceState{Name: s.Name, Kind: KindURL, Format: s.Format, Location: s.URL}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return "", state, err
	}
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	if hasPrev {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return "", state, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && hasPrev:
		return "", prev, nil
	case resp.StatusCode != http.StatusOK:
		return "", state, fmt.Errorf("HTTP %s", resp.Status)
	}
	state.ETag = resp.Header.Get("ETag")
	state.LastModified = resp.Header.Get("Last-Modified")
	if resp.ContentLength > opts.MaxDownload {
		return "", state, fmt.Errorf("archive of %d bytes exceeds the limit of %d", resp.ContentLength, opts.MaxDownload)
	}

	f, err := os.CreateTemp(dir, "source-*.zip")
	if err != nil {
		return "", state, err
	}
	// MD5 and CRC-32C only when the server sends one to check (each a
	// few percent of an import's CPU), SHA-256 always (the state keeps it).
	sha := sha256.New()
	sinks := []io.Writer{f, sha}
	var md, crc hash.Hash
	if wantMD5, wantCRC := headerHashes(resp.Header); wantMD5 || wantCRC {
		if wantMD5 {
			md = md5.New()
			sinks = append(sinks, md)
		}
		if wantCRC {
			crc = crc32.New(crc32.MakeTable(crc32.Castagnoli))
			sinks = append(sinks, crc)
		}
	}
	n, err := io.Copy(io.MultiWriter(sinks...), io.LimitReader(resp.Body, opts.MaxDownload+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", state, fmt.Errorf("download: %w", err)
	}
	if n > opts.MaxDownload {
		return "", state, fmt.Errorf("archive exceeds the limit of %d bytes", opts.MaxDownload)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", state, fmt.Errorf("download: got %d of %d bytes", n, resp.ContentLength)
	}
	state.SHA256 = hex.EncodeToString(sha.Sum(nil))
	if err := verifyHeaders(resp.Header, md, crc); err != nil {
		return "", state, err
	}
	want := strings.ToLower(s.SHA256)
	if want == "" && s.ChecksumURL != "" {
		if want, err = fetchChecksum(ctx, opts.Client, s.ChecksumURL); err != nil {
			return "", state, err
		}
	}
	if want != "" && want != state.SHA256 {
		return "", state, fmt.Errorf("checksum mismatch: archive has SHA-256 %s, want %s", state.SHA256, want)
	}
	if hasPrev && prev.SHA256 == state.SHA256 {
		// Same bytes: keep the records, refresh the validators.
		prev.ETag, prev.LastModified = state.ETag, state.LastModified
		return "", prev, nil
	}
	return f.Name(), state, nil
}

// headerHashes reports which hashes of the body the headers carry to be
// checked: Content-MD5, and x-goog-hash's md5 and crc32c.
func headerHashes(h http.Header) (md5, crc32c bool) {
	md5 = h.Get("Content-MD5") != ""
	for k := range gcsHashes(h) {
		md5 = md5 || k == "md5"
		crc32c = crc32c || k == "crc32c"
	}
	return md5, crc32c
}

// gcsHashes yields the hashes of x-goog-hash as name and value.
func gcsHashes(h http.Header) func(yield func(k, v string) bool) {
	return func(yield func(k, v string) bool) {
		for _, line := range h.Values("X-Goog-Hash") {
			for _, part := range strings.Split(line, ",") {
				// Cut stops at the first '=', so base64 padding stays in v.
				k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// verifyHeaders checks the hashes a server (or Google Cloud Storage, which
// serves OSV's exports) sends: Content-MD5 and x-goog-hash (crc32c, md5).
// md and crc are the body's hashes, nil where headerHashes found none
// to check.
func verifyHeaders(h http.Header, md, crc hash.Hash) error {
	var gotMD5, gotCRC string
	if md != nil {
		gotMD5 = base64.StdEncoding.EncodeToString(md.Sum(nil))
	}
	if crc != nil {
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], crc.(hash.Hash32).Sum32())
		gotCRC = base64.StdEncoding.EncodeToString(c[:])
	}
	if v := h.Get("Content-MD5"); v != "" && v != gotMD5 {
		return fmt.Errorf("checksum mismatch: Content-MD5 %s, archive has %s", v, gotMD5)
	}
	for k, v := range gcsHashes(h) {
		switch k {
		case "md5":
			if v != gotMD5 {
				return fmt.Errorf("checksum mismatch: x-goog-hash md5 %s, archive has %s", v, gotMD5)
			}
		case "crc32c":
			if v != gotCRC {
				return fmt.Errorf("checksum mismatch: x-goog-hash crc32c %s, archive has %s", v, gotCRC)
			}
		}
	}
	return nil
}

func fetchChecksum(ctx context.Context, client *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("checksum %s: HTTP %s", u, resp.Status)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4096))
	if sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			sum := strings.ToLower(fields[0])
			if b, err := hex.DecodeString(sum); err == nil && len(b) == sha256.Size {
				return sum, nil
			}
		}
	}
	return "", errors.New("checksum " + u + ": no SHA-256 in the response")
}
