package vulndb

// Enrichment of CVEs: what sources other than the advisories say of a CVE,
// kept beside the OSV records in the same database (and so in the same
// signed bundles) and looked up by CVE ID:
//
//   - NVD's CVE API 2.0 JSON (https://nvd.nist.gov/developers/vulnerabilities),
//     as its yearly feeds and API pages publish it: the CVSS v4.0, v3.x
//     and v2 vectors of each CVE, NVD's own ("Primary") and the CNA's
//     ("Secondary"). A finding whose advisory carries no severity is rated
//     by NVD's score of its CVE alias.
//   - CISA's Known Exploited Vulnerabilities catalogue (JSON,
//     https://www.cisa.gov/known-exploited-vulnerabilities-catalog).
//   - FIRST's EPSS scores (CSV, https://www.first.org/epss/data_stats): the
//     probability of exploitation in the next 30 days and its percentile.
//
// Every format is read as a stream with bounded items, so a feed of the
// whole NVD (a few hundred thousand CVEs) never sits in memory whole.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Source formats. An OSV source holds advisories; the others enrich CVEs.
const (
	FormatOSV  = "osv"
	FormatNVD  = "nvd"
	FormatKEV  = "kev"
	FormatEPSS = "epss"
)

// Formats lists the formats a source can have.
var Formats = []string{FormatOSV, FormatALAS, FormatNVD, FormatKEV, FormatEPSS, FormatDebianTracker, FormatRedHatVEX, FormatUbuntuTracker, FormatOVAL, FormatPhoton, FormatBodhi, FormatRedHatCPE}

// FormatOf returns the format a source name implies when none is given:
// "nvd", "nvd-2024", "NVD:recent" are NVD feeds, "kev" and "epss" (and
// names starting "kev-", "epss-") are CISA KEV and EPSS, "debian-tracker"
// is the Debian Security Tracker's JSON, "alas-2" and "alas-2023" are
// Amazon Linux's updateinfo.xml, "redhat-vex" is Red Hat's CSAF VEX,
// "ubuntu-tracker" the Ubuntu CVE Tracker, "oval-oracle" and
// "oval-azurelinux-3.0" OVAL, "photon-5.0" Photon OS's CVE metadata,
// "bodhi-fedora" Fedora's Bodhi updates, "redhat-cpe" Red Hat's
// repository-to-CPE mapping; every other name is OSV.
func FormatOf(name string) string {
	n := strings.ToLower(name)
	for _, f := range []string{FormatNVD, FormatKEV, FormatEPSS, FormatDebianTracker, FormatALAS, FormatRedHatVEX, FormatUbuntuTracker,
		FormatOVAL, FormatPhoton, FormatBodhi, FormatRedHatCPE} {
		if n == f || strings.HasPrefix(n, f+"-") || strings.HasPrefix(n, f+":") || strings.HasPrefix(n, f+"_") {
			return f
		}
	}
	return FormatOSV
}

// ValidFormat reports whether f is one of Formats ("" counts as OSV).
func ValidFormat(f string) bool {
	if f == "" {
		return true
	}
	for _, x := range Formats {
		if f == x {
			return true
		}
	}
	return false
}

// CVEInfo is what the enrichment sources say of one CVE.
type CVEInfo struct {
	ID string `json:"id"`
	// CVSS are the CVE's scores as NVD publishes them.
	CVSS []CVEScore `json:"cvss,omitempty"`
	// KEV is set when CISA lists the CVE as known to be exploited.
	KEV *KEV `json:"kev,omitempty"`
	// EPSS is the CVE's exploit prediction score.
	EPSS *EPSS `json:"epss,omitempty"`
	// Statuses are distributions' fix states of the CVE per source
	// package and release, where their advisories do not carry them
	// (Debian's Security Tracker).
	Statuses []PackageStatus `json:"statuses,omitempty"`
	// cpeRecord is the advisory an NVD item's CPE configurations make of
	// the CVE (nvdcpe.go), handed to the source's reader, never stored here.
	cpeRecord *Record
	// Priorities are distributions' own ratings of the CVE where their
	// advisories do not carry them per package (the Ubuntu CVE
	// Tracker's priorities).
	Priorities []Priority `json:"priorities,omitempty"`
}

// Priority is a distribution's rating of a CVE: of the CVE as a whole
// (Package empty), of one source package, or of one source package in
// one release.
type Priority struct {
	// Ecosystem is the distribution ("Ubuntu"), with a release when the
	// rating is of one release ("Ubuntu:22.04:LTS").
	Ecosystem string `json:"ecosystem"`
	Package   string `json:"package,omitempty"`
	// Priority is the distribution's word ("negligible", "low",
	// "medium", "high", "critical").
	Priority string `json:"priority"`
	// Source names who rated it ("Ubuntu CVE Tracker").
	Source string `json:"source"`
}

// PackageStatus is a distribution's fix state of a CVE in one package of
// one release.
type PackageStatus struct {
	// Ecosystem is the OSV ecosystem with release ("Debian:12").
	Ecosystem string `json:"ecosystem"`
	// Package is the source package.
	Package string `json:"package"`
	// State is "affected", "will_not_fix", "fix_deferred" or
	// "end_of_life" (the finding.FixState names); Reason is the
	// distribution's own word ("no-dsa", "ignored", "postponed").
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// CVEScore is one CVSS vector of a CVE.
type CVEScore struct {
	// Version is "4.0", "3.1", "3.0" or "2.0".
	Version string `json:"version"`
	Vector  string `json:"vector"`
	// Source is who scored it, as NVD names it ("nvd@nist.gov", a CNA's
	// e-mail or UUID); Primary is true for NVD's own score.
	Source  string `json:"source,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// KEV is an entry of CISA's Known Exploited Vulnerabilities catalogue.
type KEV struct {
	DateAdded string `json:"dateAdded"`
	DueDate   string `json:"dueDate,omitempty"`
	// Ransomware is "Known" when the CVE is used in ransomware campaigns.
	Ransomware string `json:"ransomware,omitempty"`
	Name       string `json:"name,omitempty"`
}

// EPSS is a CVE's EPSS score (0..1) and percentile (0..1) on Date.
type EPSS struct {
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
	Date       string  `json:"date,omitempty"`
}

// merge adds o's data to c: scores are appended, KEV and EPSS set when c
// has none.
func (c *CVEInfo) merge(o *CVEInfo) {
	c.CVSS = append(c.CVSS, o.CVSS...)
	if c.KEV == nil {
		c.KEV = o.KEV
	}
	if c.EPSS == nil {
		c.EPSS = o.EPSS
	}
	c.Statuses = append(c.Statuses, o.Statuses...)
	c.Priorities = append(c.Priorities, o.Priorities...)
}

// IsCVE reports whether id has the form CVE-YYYY-NNNN...
func IsCVE(id string) bool {
	rest, ok := strings.CutPrefix(id, "CVE-")
	if !ok || len(rest) < 6 || len(rest) > 32 || rest[4] != '-' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if i != 4 && (rest[i] < '0' || rest[i] > '9') {
			return false
		}
	}
	return true
}

// Limits of the enrichment formats. An NVD CVE item is a few kilobytes
// (descriptions, references, configurations); one over maxCVEItem is
// skipped.
const (
	maxCVEItem   = 4 << 20
	maxCVEScores = 32
	maxCSVLine   = 4096
)

// readCVEs reads a file or directory of one enrichment format and calls fn
// with each CVE's information. Files may be plain, gzip-compressed or zip
// archives (NVD's .json.gz and .json.zip feeds, EPSS's .csv.gz); a
// directory's regular files are read in name order (NVD's yearly feeds).
func readCVEs(ctx context.Context, path, format string, fn func(*CVEInfo) error) (readStats, error) {
	if format == FormatUbuntuTracker {
		return readUbuntuTracker(ctx, path, fn)
	}
	var st readStats
	err := readSourceFiles(path, func(r io.Reader) error { return readCVEStream(ctx, r, format, &st, fn) })
	return st, err
}

// readSourceFiles calls read with the decompressed content of each file
// of a source (sourceFiles, withDecompressed).
func readSourceFiles(path string, read func(io.Reader) error) error {
	files, err := sourceFiles(path)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := withDecompressed(f, read); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// sourceFiles lists the files of a source: the file itself, or a
// directory's regular files in name order (NVD's yearly feeds).
func sourceFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	return out, nil
}

// withDecompressed calls fn with the content of a plain, gzip or zip
// file; for a zip, once per regular entry.
func withDecompressed(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		return fn(zr)
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")):
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		zr, err := zip.NewReader(f, fi.Size())
		if err != nil {
			return err
		}
		if len(zr.File) > 1000 {
			return fmt.Errorf("zip: %d entries, limit 1000", len(zr.File))
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("%s: %w", zf.Name, err)
			}
			err = fn(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", zf.Name, err)
			}
		}
		return nil
	}
	return fn(br)
}

func readCVEStream(ctx context.Context, r io.Reader, format string, st *readStats, fn func(*CVEInfo) error) error {
	switch format {
	case FormatNVD:
		return readNVD(ctx, r, st, fn)
	case FormatKEV:
		return readKEV(ctx, r, st, fn)
	case FormatEPSS:
		return readEPSS(ctx, r, st, fn)
	case FormatDebianTracker:
		return readDebianTracker(ctx, r, st, fn)
	}
	return fmt.Errorf("unknown format %q", format)
}

// nvdItem is the part of an NVD CVE API 2.0 item Palisade reads.
type nvdItem struct {
	CVE struct {
		ID         string `json:"id"`
		VulnStatus string `json:"vulnStatus"`
		Metrics    map[string][]struct {
			Source   string `json:"source"`
			Type     string `json:"type"`
			CVSSData struct {
				Version      string `json:"version"`
				VectorString string `json:"vectorString"`
			} `json:"cvssData"`
		} `json:"metrics"`
	} `json:"cve"`
}

// readNVD streams the "vulnerabilities" array of an NVD CVE API 2.0
// response or feed ({"resultsPerPage":..., "vulnerabilities":[{"cve":
// {...}}, ...]}). Rejected CVEs are left out.
func readNVD(ctx context.Context, r io.Reader, st *readStats, fn func(*CVEInfo) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return fmt.Errorf("NVD feed: %w", err)
	}
	found := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fmt.Errorf("NVD feed: %w", err)
		}
		if key != "vulnerabilities" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("NVD feed: %v: %w", key, err)
			}
			continue
		}
		found = true
		if err := expectDelim(dec, '['); err != nil {
			return fmt.Errorf("NVD feed: vulnerabilities: %w", err)
		}
		for i := 0; dec.More(); i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("NVD feed: vulnerabilities[%d]: %w", i, err)
			}
			name := fmt.Sprintf("vulnerabilities[%d]", i)
			if len(raw) > maxCVEItem {
				st.skip(name, errors.New("item too large"))
				continue
			}
			var it nvdItem
			if err := json.Unmarshal(raw, &it); err != nil {
				st.skip(name, err)
				continue
			}
			if !IsCVE(it.CVE.ID) {
				st.skip(name, fmt.Errorf("id %q is not a CVE ID", truncate(it.CVE.ID, 40)))
				continue
			}
			if strings.EqualFold(it.CVE.VulnStatus, "Rejected") {
				st.withdrawn++
				continue
			}
			info := &CVEInfo{ID: it.CVE.ID, cpeRecord: cpeRecordOf(it.CVE.ID, raw)}
			for _, key := range []string{"cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"} {
				for _, m := range it.CVE.Metrics[key] {
					v := m.CVSSData.VectorString
					if v == "" || len(v) > 256 || len(info.CVSS) >= maxCVEScores {
						continue
					}
					info.CVSS = append(info.CVSS, CVEScore{Version: m.CVSSData.Version, Vector: v,
						Source: truncate(m.Source, 128), Primary: m.Type == "Primary"})
				}
			}
			st.records++
			if err := fn(info); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return fmt.Errorf("NVD feed: vulnerabilities: %w", err)
		}
	}
	if !found {
		return errors.New("NVD feed: no \"vulnerabilities\" array (not an NVD CVE API 2.0 document)")
	}
	return nil
}

// readKEV reads CISA's catalogue: {"catalogVersion": ..., "vulnerabilities":
// [{"cveID": ..., "dateAdded": ..., ...}]}.
func readKEV(ctx context.Context, r io.Reader, st *readStats, fn func(*CVEInfo) error) error {
	var doc struct {
		CatalogVersion  string `json:"catalogVersion"`
		Vulnerabilities []struct {
			CVEID      string `json:"cveID"`
			Name       string `json:"vulnerabilityName"`
			DateAdded  string `json:"dateAdded"`
			DueDate    string `json:"dueDate"`
			Ransomware string `json:"knownRansomwareCampaignUse"`
		} `json:"vulnerabilities"`
	}
	// The whole catalogue is about 1,500 entries (1.5 MB); 64 MiB bounds
	// a hostile one.
	data, err := io.ReadAll(io.LimitReader(r, 64<<20+1))
	if err != nil {
		return err
	}
	if len(data) > 64<<20 {
		return errors.New("KEV catalogue: over 64 MiB")
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("KEV catalogue: %w", err)
	}
	if doc.Vulnerabilities == nil {
		return errors.New("KEV catalogue: no \"vulnerabilities\" array (not CISA's KEV JSON)")
	}
	for i, v := range doc.Vulnerabilities {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !IsCVE(v.CVEID) {
			st.skip(fmt.Sprintf("vulnerabilities[%d]", i), fmt.Errorf("cveID %q is not a CVE ID", truncate(v.CVEID, 40)))
			continue
		}
		st.records++
		if err := fn(&CVEInfo{ID: v.CVEID, KEV: &KEV{DateAdded: truncate(v.DateAdded, 32), DueDate: truncate(v.DueDate, 32),
			Ransomware: truncate(v.Ransomware, 32), Name: truncate(v.Name, 256)}}); err != nil {
			return err
		}
	}
	return nil
}

// readEPSS reads FIRST's EPSS CSV: an optional "#model_version:...,
// score_date:..." comment, the header "cve,epss,percentile", then one
// line per CVE.
func readEPSS(ctx context.Context, r io.Reader, st *readStats, fn func(*CVEInfo) error) error {
	br := bufio.NewReader(r)
	date := ""
	if b, _ := br.Peek(1); len(b) == 1 && b[0] == '#' {
		line, err := readLimitedLine(br)
		if err != nil {
			return fmt.Errorf("EPSS CSV: %w", err)
		}
		for _, part := range strings.Split(strings.TrimPrefix(line, "#"), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "score_date:"); ok {
				date = truncate(v, 32)
			}
		}
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("EPSS CSV: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	ci, ok1 := col["cve"]
	ei, ok2 := col["epss"]
	pi, ok3 := col["percentile"]
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("EPSS CSV: header %q lacks cve, epss and percentile", strings.Join(header, ","))
	}
	for line := 2; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		name := fmt.Sprintf("line %d", line)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				st.skip(name, err)
				continue
			}
			return fmt.Errorf("EPSS CSV: %w", err)
		}
		if len(rec) <= max(ci, ei, pi) {
			st.skip(name, errors.New("too few fields"))
			continue
		}
		id := rec[ci]
		score, err1 := strconv.ParseFloat(rec[ei], 64)
		pct, err2 := strconv.ParseFloat(rec[pi], 64)
		if !IsCVE(id) || err1 != nil || err2 != nil || score < 0 || score > 1 || pct < 0 || pct > 1 {
			st.skip(name, fmt.Errorf("invalid row %q", truncate(strings.Join(rec, ","), 80)))
			continue
		}
		st.records++
		if err := fn(&CVEInfo{ID: id, EPSS: &EPSS{Score: score, Percentile: pct, Date: date}}); err != nil {
			return err
		}
	}
}

func readLimitedLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		frag, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		if b.Len()+len(frag) > maxCSVLine {
			return "", errors.New("line too long")
		}
		b.Write(frag)
		if !isPrefix {
			return b.String(), nil
		}
	}
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, t)
	}
	return nil
}
