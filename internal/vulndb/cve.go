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

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fastjson"
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

// readNVD streams the "vulnerabilities" array of an NVD CVE API 2.0
// response or feed ({"resultsPerPage":..., "vulnerabilities":[{"cve":
// {...}}, ...]}). Rejected CVEs are left out.
//
// The stream is split into items by a validating scanner (jsontext) on
// one goroutine while others read each item (fastjson, no reflection:
// only the ID, status, CVSS vectors and, for the few items that name a
// mapped CPE product, the configurations) ahead of fn, which is called in
// the feed's order.
func readNVD(ctx context.Context, r io.Reader, st *readStats, fn func(*CVEInfo) error) error {
	found := false
	pool := newBufferPool(nvdArena)
	err := decodeAhead(ctx, func(ctx context.Context, emit func(nvdBatch) error) error {
		var err error
		found, err = splitNVD(ctx, r, pool, emit)
		return err
	}, func(b nvdBatch) []nvdParsed {
		out := parseNVDItems(b.items)
		// The items are decoded into values of their own: their bytes can
		// be read into again.
		for _, a := range b.arenas {
			pool.put(a)
		}
		return out
	}, func(items []nvdParsed) error {
		for _, it := range items {
			switch {
			case it.err != nil:
				st.skip(it.name, it.err)
			case it.info == nil:
				st.withdrawn++
			default:
				st.records++
				if err := fn(it.info); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return errors.New("NVD feed: no \"vulnerabilities\" array (not an NVD CVE API 2.0 document)")
	}
	return nil
}

// nvdBatch is a batch of items read from an NVD feed and the buffers
// they are in; nvdRaw is one item of an NVD feed as read; nvdParsed what
// it says: its CVE information, nil for a rejected CVE, or the error that
// skips it.
type (
	nvdBatch struct {
		items  []nvdRaw
		arenas [][]byte
	}
	nvdRaw struct {
		index int
		data  []byte
	}
	nvdParsed struct {
		name string
		info *CVEInfo
		err  error
	}
)

// nvdArena is the size of the buffers a batch's raw items are copied
// into (an item larger than it gets one of its own, not kept). A batch
// of readBatchEntries items of one to a few kilobytes fills one to a
// few; at a megabyte each, most of a buffer stayed empty, and the read
// kept a dozen of them (the batches in flight and the pool's), a
// noticeable part of an import's heap at its peak.
const nvdArena = 256 << 10

// splitNVD reads an NVD document's items in batches of bounded count and
// bytes; found reports whether it has a "vulnerabilities" array.
func splitNVD(ctx context.Context, r io.Reader, pool bufferPool, emit func(nvdBatch) error) (found bool, err error) {
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if err := expectKind(dec, '{'); err != nil {
		return false, fmt.Errorf("NVD feed: %w", err)
	}
	var batch nvdBatch
	var arena []byte
	batchBytes := 0 // bounds the bytes a batch holds, with readBatchEntries
	flush := func() error {
		if len(batch.items) == 0 {
			return nil
		}
		if arena != nil {
			batch.arenas = append(batch.arenas, arena)
		}
		err := emit(batch)
		batch, arena, batchBytes = nvdBatch{}, nil, 0
		return err
	}
	// The items before a syntax error are read, as a sequential reader
	// would have; the error still fails the read.
	defer func() {
		if err != nil && ctx.Err() == nil {
			_ = flush()
		}
	}()
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return found, fmt.Errorf("NVD feed: %w", err)
		}
		key := tok.String()
		if key != "vulnerabilities" {
			if err := dec.SkipValue(); err != nil {
				return found, fmt.Errorf("NVD feed: %v: %w", key, err)
			}
			continue
		}
		found = true
		if err := expectKind(dec, '['); err != nil {
			return found, fmt.Errorf("NVD feed: vulnerabilities: %w", err)
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			if err := ctx.Err(); err != nil {
				return found, err
			}
			raw, err := dec.ReadValue()
			if err != nil {
				return found, fmt.Errorf("NVD feed: vulnerabilities[%d]: %w", i, err)
			}
			if len(raw) > maxCVEItem {
				batch.items = append(batch.items, nvdRaw{index: i}) // nil data: too large
			} else {
				// The raw value is only valid until the next read: it is
				// copied into the batch's buffers.
				if len(arena)+len(raw) > cap(arena) {
					if arena != nil {
						batch.arenas = append(batch.arenas, arena)
					}
					arena = pool.get(max(nvdArena, len(raw)))
				}
				start := len(arena)
				arena = append(arena, raw...)
				batch.items = append(batch.items, nvdRaw{index: i, data: arena[start:len(arena):len(arena)]})
				batchBytes += len(raw)
			}
			if len(batch.items) >= readBatchEntries || batchBytes >= readBatchBytes {
				if err := flush(); err != nil {
					return found, err
				}
			}
		}
		if err := expectKind(dec, ']'); err != nil {
			return found, fmt.Errorf("NVD feed: vulnerabilities: %w", err)
		}
	}
	if err := expectKind(dec, '}'); err != nil {
		return found, fmt.Errorf("NVD feed: %w", err)
	}
	return found, flush()
}

// expectKind reads the next token and checks it is the delimiter want.
func expectKind(dec *jsontext.Decoder, want jsontext.Kind) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != want {
		return fmt.Errorf("want %q, got %v", rune(want), tok.Kind())
	}
	return nil
}

// nvdMetricKeys are the CVSS metrics read from an item, newest first.
var nvdMetricKeys = []string{"cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"}

// parseNVDItems reads a batch of NVD items (a worker of decodeAhead).
func parseNVDItems(batch []nvdRaw) []nvdParsed {
	var p fastjson.Parser
	out := make([]nvdParsed, len(batch))
	for i, raw := range batch {
		out[i].name = fmt.Sprintf("vulnerabilities[%d]", raw.index)
		if raw.data == nil {
			out[i].err = errors.New("item too large")
			continue
		}
		out[i].info, out[i].err = parseNVDItem(&p, raw.data)
	}
	return out
}

// parseNVDItem reads one item: its CVE's scores, and the record of its
// mapped CPE configurations. A rejected CVE is (nil, nil).
func parseNVDItem(p *fastjson.Parser, raw []byte) (*CVEInfo, error) {
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("item is a JSON %s, not an object", v.Type())
	}
	cve := v.Get("cve")
	var id, status string
	if cve != nil && cve.Type() != fastjson.TypeNull {
		if cve.Type() != fastjson.TypeObject {
			return nil, fmt.Errorf("cve is a JSON %s, not an object", cve.Type())
		}
		if id, err = optString(cve, "id"); err != nil {
			return nil, err
		}
		if status, err = optString(cve, "vulnStatus"); err != nil {
			return nil, err
		}
	}
	if !IsCVE(id) {
		return nil, fmt.Errorf("id %q is not a CVE ID", truncate(id, 40))
	}
	if strings.EqualFold(status, "Rejected") {
		return nil, nil
	}
	info := &CVEInfo{ID: id, cpeRecord: cpeRecordOf(id, raw)}
	metrics := cve.Get("metrics")
	if metrics == nil || metrics.Type() == fastjson.TypeNull {
		return info, nil
	}
	if metrics.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("cve.metrics is a JSON %s, not an object", metrics.Type())
	}
	for _, key := range nvdMetricKeys {
		list := metrics.Get(key)
		if list == nil || list.Type() == fastjson.TypeNull {
			continue
		}
		ms, err := list.Array()
		if err != nil {
			return nil, fmt.Errorf("cve.metrics.%s: %w", key, err)
		}
		for _, m := range ms {
			if m.Type() != fastjson.TypeObject {
				return nil, fmt.Errorf("cve.metrics.%s: an entry is a JSON %s, not an object", key, m.Type())
			}
			var src, typ, version, vector string
			if src, err = optString(m, "source"); err == nil {
				typ, err = optString(m, "type")
			}
			if data := m.Get("cvssData"); err == nil && data != nil && data.Type() != fastjson.TypeNull {
				if data.Type() != fastjson.TypeObject {
					err = fmt.Errorf("cvssData is a JSON %s, not an object", data.Type())
				} else if version, err = optString(data, "version"); err == nil {
					vector, err = optString(data, "vectorString")
				}
			}
			if err != nil {
				return nil, fmt.Errorf("cve.metrics.%s: %w", key, err)
			}
			if vector == "" || len(vector) > 256 || len(info.CVSS) >= maxCVEScores {
				continue
			}
			info.CVSS = append(info.CVSS, CVEScore{Version: version, Vector: vector,
				Source: truncate(src, 128), Primary: typ == "Primary"})
		}
	}
	return info, nil
}

// optString returns the string member key of o ("" when absent or
// null); any other type is an error.
func optString(o *fastjson.Value, key string) (string, error) {
	v := o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return string(b), nil
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
