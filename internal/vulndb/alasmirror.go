package vulndb

// Amazon Linux publishes its advisories only inside its yum repositories
// (repodata/updateinfo.xml.gz of the core repository), and the
// repositories move with every release: a repository's URL names the
// release's GUID or hash. What stays put is the mirror list the
// distribution's own package manager starts from
// (https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list,
// https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list): one
// repository URL per line. From it, as yum and dnf do, Palisade reads the
// repository's repodata/repomd.xml, whose <data type="updateinfo"> names
// the updateinfo file and its SHA-256, and downloads that.
//
// An ALAS source whose URL ends in "mirror.list" (or "mirrorlist") is
// followed this way; any other URL is the updateinfo file itself. The
// source keeps the mirror list as its location and remembers the file it
// was resolved to: when repomd.xml announces the SHA-256 of the file
// already imported, nothing is downloaded; when the repository is the
// same, the file's request is conditional (ETag / Last-Modified, 304).

import (
	"context"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Amazon Linux's mirror lists of the core repository (x86_64; the
// advisories are the same for every architecture).
const (
	AmazonLinux2MirrorList    = "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list"
	AmazonLinux2023MirrorList = "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list"
)

// Limits of what a mirror list points at.
const (
	maxMirrorList   = 64 << 10
	maxMirrors      = 32
	maxRepomd       = 4 << 20
	maxRepomdEntrys = 1000
)

// isMirrorList reports whether an ALAS source's URL is a mirror list to
// follow rather than the updateinfo file.
func isMirrorList(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	p := strings.ToLower(pu.Path)
	return strings.HasSuffix(p, "/mirror.list") || strings.HasSuffix(p, "/mirrorlist")
}

// resolvedUpdateinfo is where a mirror list led.
type resolvedUpdateinfo struct {
	// URL is the updateinfo file; SHA256 its hash as repomd.xml announces
	// it (hex), "" when it gives none.
	URL, SHA256 string
}

// resolveMirrorList follows a mirror list to the updateinfo file of the
// first repository that serves a repomd.xml naming one. Every mirror's
// failure is reported when none works.
func resolveMirrorList(ctx context.Context, opts UpdateOptions, listURL string) (resolvedUpdateinfo, error) {
	body, err := getSmall(ctx, opts, listURL, maxMirrorList)
	if err != nil {
		return resolvedUpdateinfo{}, fmt.Errorf("mirror list: %w", err)
	}
	mirrors, err := parseMirrorList(body)
	if err != nil {
		return resolvedUpdateinfo{}, fmt.Errorf("mirror list: %w", err)
	}
	var errs []error
	for _, m := range mirrors {
		r, err := updateinfoOf(ctx, opts, m)
		if err == nil {
			return r, nil
		}
		errs = append(errs, fmt.Errorf("repository %s: %w", m, err))
	}
	return resolvedUpdateinfo{}, errors.Join(errs...)
}

// parseMirrorList reads a mirror list: one repository URL per line,
// blank lines and "#" comments ignored.
func parseMirrorList(body []byte) ([]*url.URL, error) {
	var mirrors []*url.URL
	for i, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := url.Parse(line)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("line %d: %q is not an http(s) URL", i+1, truncate(line, 80))
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		if mirrors = append(mirrors, u); len(mirrors) >= maxMirrors {
			break
		}
	}
	if len(mirrors) == 0 {
		return nil, errors.New("names no repository")
	}
	return mirrors, nil
}

// repomd is the part of a yum repository's repodata/repomd.xml read here.
type repomd struct {
	XMLName xml.Name `xml:"repomd"`
	Data    []struct {
		Type     string `xml:"type,attr"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

// updateinfoOf reads a repository's repomd.xml for its updateinfo file.
func updateinfoOf(ctx context.Context, opts UpdateOptions, base *url.URL) (resolvedUpdateinfo, error) {
	mdURL := base.ResolveReference(&url.URL{Path: "repodata/repomd.xml"})
	body, err := getSmall(ctx, opts, mdURL.String(), maxRepomd)
	if err != nil {
		return resolvedUpdateinfo{}, err
	}
	return parseRepomd(body, base)
}

// parseRepomd reads a repomd.xml of the repository at base for its
// updateinfo file.
func parseRepomd(body []byte, base *url.URL) (resolvedUpdateinfo, error) {
	var md repomd
	if err := xml.Unmarshal(body, &md); err != nil {
		return resolvedUpdateinfo{}, fmt.Errorf("repodata/repomd.xml: %w", err)
	}
	if len(md.Data) > maxRepomdEntrys {
		return resolvedUpdateinfo{}, fmt.Errorf("repodata/repomd.xml: %d entries, limit %d", len(md.Data), maxRepomdEntrys)
	}
	for _, d := range md.Data {
		if d.Type != "updateinfo" {
			continue
		}
		href, err := url.Parse(strings.TrimSpace(d.Location.Href))
		if err != nil || d.Location.Href == "" {
			return resolvedUpdateinfo{}, fmt.Errorf("repodata/repomd.xml: updateinfo location %q", truncate(d.Location.Href, 80))
		}
		u := base.ResolveReference(href)
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return resolvedUpdateinfo{}, fmt.Errorf("repodata/repomd.xml: updateinfo location %q is not an http(s) URL", truncate(d.Location.Href, 80))
		}
		r := resolvedUpdateinfo{URL: u.String()}
		if strings.EqualFold(d.Checksum.Type, "sha256") {
			sum := strings.ToLower(strings.TrimSpace(d.Checksum.Value))
			if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
				return resolvedUpdateinfo{}, fmt.Errorf("repodata/repomd.xml: updateinfo checksum %q is not a SHA-256", truncate(sum, 80))
			}
			r.SHA256 = sum
		}
		return r, nil
	}
	return resolvedUpdateinfo{}, errors.New("repodata/repomd.xml names no updateinfo (not an Amazon Linux core repository?)")
}

// getSmall downloads a small document whole, at most limit bytes.
func getSmall(ctx context.Context, opts UpdateOptions, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", u, limit)
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		return nil, fmt.Errorf("%s: got %d of %d bytes", u, len(body), resp.ContentLength)
	}
	return body, nil
}

// fetchMirrored downloads an ALAS source given by its mirror list: the
// updateinfo file the list leads to, unless repomd.xml announces the hash
// of the file already imported (then the previous records hold, as after
// a 304). The file is verified against that hash.
func fetchMirrored(ctx context.Context, opts UpdateOptions, s Source, prev SourceState, hasPrev bool, dir string) (string, SourceState, error) {
	r, err := resolveMirrorList(ctx, opts, s.URL)
	if err != nil {
		return "", SourceState{}, err
	}
	if hasPrev && r.SHA256 != "" && prev.SHA256 == r.SHA256 {
		prev.Resolved = r.URL
		return "", prev, nil
	}
	file := s
	file.URL = r.URL
	if file.SHA256 == "" {
		file.SHA256 = r.SHA256
	}
	// Validators belong to the file they came from: another repository's
	// file is fetched unconditionally.
	path, state, err := fetch(ctx, opts, file, prev, hasPrev && prev.Resolved == r.URL, dir)
	if err != nil {
		return "", state, fmt.Errorf("%s: %w", r.URL, err)
	}
	state.Location, state.Resolved = s.URL, r.URL
	return path, state, nil
}
