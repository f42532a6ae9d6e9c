package vulndb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// The database is one bbolt file with three buckets:
//
//	meta     "meta" -> Metadata as JSON
//	records  ID -> source name, NUL, the record as compact JSON
//	index    IndexKey(ecosystem, package) -> the IDs of its records, one per line
//	cves     CVE ID, NUL, source name -> that source's CVEInfo as JSON
//	repositories  content set, NUL, source name -> Red Hat CPEs, one per line (repocpe.go)
//
// The cves bucket holds the enrichment sources (NVD, CISA KEV, EPSS); a
// file built before it or the repositories bucket existed has none and
// opens without it.
//
// The file is only ever written whole, by a builder, into a temporary file
// beside the live one, and then renamed over it: readers never see a half
// written database, and a failed build leaves the old one in place.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketIndex   = []byte("index")
	bucketCVEs    = []byte("cves")
	keyMeta       = []byte("meta")
)

// SchemaVersion is the layout version of the database file. A file of
// another version is rejected by Open; `palisade db update` rebuilds it.
const SchemaVersion = 1

// Metadata describes a database file: when it was built and from what.
type Metadata struct {
	SchemaVersion int `json:"schemaVersion"`
	// Built is when the file was written; Updated is the last time every
	// source was found current (a download, or a 304 Not Modified).
	Built   time.Time `json:"built"`
	Updated time.Time `json:"updated"`
	// Sources are the inputs of the records, by name.
	Sources []SourceState `json:"sources"`
	// Ecosystems counts records per base OSV ecosystem ("Debian", "Go").
	Ecosystems map[string]int `json:"ecosystems"`
	// Releases are the release-qualified ecosystems of the distributions
	// whose advisories name the release they apply to (Debian, Ubuntu,
	// Alpine: "Debian:12", "Alpine:v3.20"), so that a package of a release
	// the database has no advisories of is reported as not checked rather
	// than clean. Empty in a file built before they were recorded.
	Releases []string `json:"releases,omitempty"`
	// Records is the number of records.
	Records int `json:"records"`
	// CVEs is the number of CVE enrichment entries (NVD, KEV, EPSS).
	CVEs int `json:"cves,omitempty"`
}

// SourceState is what the database remembers of one source.
type SourceState struct {
	Name string `json:"name"`
	// Kind is "url" for a downloaded source and "file" for an imported
	// directory or zip.
	Kind string `json:"kind"`
	// Format is the source's format: "" or "osv" for advisories, "nvd",
	// "kev" or "epss" for CVE enrichment.
	Format string `json:"format,omitempty"`
	// Location is the URL or the file imported.
	Location string `json:"location"`
	// Resolved is the file a mirror list led to at the last download
	// (Amazon Linux's updateinfo, alasmirror.go).
	Resolved string `json:"resolved,omitempty"`
	// ETag and LastModified are the validators of the last download, sent
	// back as If-None-Match and If-Modified-Since.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// SHA256 is the hash of the last archive read.
	SHA256 string `json:"sha256,omitempty"`
	// Fetched is when the content was last read; Checked when it was last
	// found current.
	Fetched time.Time `json:"fetched"`
	Checked time.Time `json:"checked"`
	Records int       `json:"records"`
	// CVEs counts the CVEs an enrichment source describes.
	CVEs int `json:"cves,omitempty"`
	// Repositories counts the content sets a repository-to-CPE source
	// maps.
	Repositories int `json:"repositories,omitempty"`
	// Skipped counts records that failed validation and were left out.
	Skipped int `json:"skipped,omitempty"`
}

// Source kinds.
const (
	KindURL  = "url"
	KindFile = "file"
)

// DB is an open, read-only vulnerability database. It is safe for
// concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	meta Metadata
}

// ErrNoDatabase is returned by Open when the file does not exist.
var ErrNoDatabase = errors.New("no vulnerability database (run `palisade db update` or `palisade db import`)")

// Open opens the database file at path read-only.
func Open(ctx context.Context, path string) (*DB, error) { return open(ctx, path, "") }

// open opens the database file at path read-only; program is the binary
// an error tells the user to rebuild it with (ProgramName).
func open(ctx context.Context, path, program string) (*DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoDatabase)
	}
	b, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	if err := b.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil || tx.Bucket(bucketRecords) == nil || tx.Bucket(bucketIndex) == nil {
			return errors.New("not a Palisade vulnerability database")
		}
		return json.Unmarshal(m.Get(keyMeta), &db.meta)
	}); err != nil {
		b.Close()
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	if db.meta.SchemaVersion != SchemaVersion {
		b.Close()
		return nil, fmt.Errorf("vulnerability database %s: schema version %d, want %d (run `%s db update`)", path, db.meta.SchemaVersion, SchemaVersion, ProgramName(program))
	}
	return db, nil
}

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Metadata describes the database.
func (db *DB) Metadata() Metadata { return db.meta }

// HasEcosystem reports whether the database holds any record of the
// ecosystem's base ("Alpine:v3.20" is Alpine). A package of an ecosystem
// without records was not checked at all, which is not the same as
// having no vulnerabilities.
func (db *DB) HasEcosystem(ecosystem string) bool { return db.meta.HasEcosystem(ecosystem) }

// HasEcosystem reports whether the metadata counts records of the
// ecosystem's base, case-insensitively.
func (m Metadata) HasEcosystem(ecosystem string) bool {
	base := BaseEcosystem(ecosystem)
	for eco, n := range m.Ecosystems {
		if n > 0 && strings.EqualFold(eco, base) {
			return true
		}
	}
	return false
}

// releaseRecorded reports whether Metadata.Releases lists the releases
// of a base ecosystem: the distributions whose OSV records and packages
// both name their release the same way.
func releaseRecorded(base string) bool {
	switch strings.ToLower(base) {
	case "debian", "ubuntu", "alpine":
		return true
	}
	return false
}

// Releases returns the release-qualified ecosystems of ecosystem's base
// that the database holds records of ("Debian:11", "Debian:12"); nil
// when it does not record releases of that base (a distribution without
// releases, or a file built before they were recorded).
func (db *DB) Releases(ecosystem string) []string { return db.meta.ReleasesOf(ecosystem) }

// ReleasesOf returns the entries of m.Releases of ecosystem's base.
func (m Metadata) ReleasesOf(ecosystem string) []string {
	base := BaseEcosystem(ecosystem)
	var out []string
	for _, r := range m.Releases {
		if b, _, _ := strings.Cut(r, ":"); strings.EqualFold(b, base) {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the records that name the package in an ecosystem. The
// ecosystem's release suffix is ignored ("Debian:12" looks up "Debian"):
// the matcher decides which releases apply. Names are normalised as the
// ecosystem does (PyPI's are case- and separator-insensitive).
func (db *DB) Lookup(ecosystem, name string) ([]*Record, error) {
	var out []*Record
	err := db.bolt.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIndex)
		ids := idx.Get([]byte(IndexKey(ecosystem, name)))
		if ids == nil {
			// A file built before NuGet, Packagist and SwiftURL names were
			// normalised indexes them as spelled.
			ids = idx.Get([]byte(strings.ToLower(BaseEcosystem(ecosystem)) + "\x00" + name))
		}
		if ids == nil {
			return nil
		}
		recs := tx.Bucket(bucketRecords)
		for _, id := range bytes.Split(ids, []byte{'\n'}) {
			raw := recs.Get(id)
			if raw == nil {
				return fmt.Errorf("index names record %s, which is missing", id)
			}
			rec, err := decodeStored(raw)
			if err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: lookup %s/%s: %w", db.path, ecosystem, name, err)
	}
	return out, nil
}

// Get returns one record by ID, or nil if there is none.
func (db *DB) Get(id string) (*Record, error) {
	var rec *Record
	err := db.bolt.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketRecords).Get([]byte(id))
		if raw == nil {
			return nil
		}
		var err error
		rec, err = decodeStored(raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: record %s: %w", db.path, id, err)
	}
	return rec, nil
}

// CVE returns what the enrichment sources say of a CVE, merged across
// sources, or nil when none says anything.
func (db *DB) CVE(id string) (*CVEInfo, error) {
	var out *CVEInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCVEs)
		if b == nil {
			return nil
		}
		prefix := []byte(id + "\x00")
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var info CVEInfo
			if err := json.Unmarshal(v, &info); err != nil {
				return fmt.Errorf("corrupt CVE entry %q: %w", k, err)
			}
			if out == nil {
				out = &CVEInfo{ID: id}
			}
			out.merge(&info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %s: %w", db.path, id, err)
	}
	return out, nil
}

// forEachCVEOf calls fn with every stored CVE entry of a source.
func (db *DB) forEachCVEOf(ctx context.Context, source string, fn func(*CVEInfo) error) error {
	suffix := []byte("\x00" + source)
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCVEs)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if !bytes.HasSuffix(k, suffix) || bytes.IndexByte(k, 0) != len(k)-len(suffix) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			var info CVEInfo
			if err := json.Unmarshal(v, &info); err != nil {
				return fmt.Errorf("CVE entry %q: %w", k, err)
			}
			return fn(&info)
		})
	})
}

// forEachOf calls fn with every stored record of a source, for carrying
// a source that did not change into a new build: the record holds only
// its ID and affected packages (what the index needs; the stored JSON
// was validated when it was imported), stored is the whole stored value
// (source, NUL, JSON), valid only during the call.
func (db *DB) forEachOf(ctx context.Context, source string, fn func(rec *Record, stored []byte) error) error {
	prefix := []byte(source + "\x00")
	return db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			if !bytes.HasPrefix(v, prefix) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			var keys struct {
				ID       string `json:"id"`
				Affected []struct {
					Package Package `json:"package"`
				} `json:"affected"`
			}
			if err := decodeRecordPart(v[len(prefix):], &keys); err != nil {
				return fmt.Errorf("record %s: corrupt stored record: %w", k, err)
			}
			rec := &Record{ID: keys.ID, Affected: make([]Affected, len(keys.Affected))}
			for i, a := range keys.Affected {
				rec.Affected[i].Package = a.Package
			}
			return fn(rec, v)
		})
	})
}

func decodeStored(v []byte) (*Record, error) {
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return nil, errors.New("corrupt stored record")
	}
	var rec Record
	if err := decodeRecord(v[i+1:], &rec); err != nil {
		return nil, fmt.Errorf("corrupt stored record: %w", err)
	}
	return &rec, nil
}

// IndexKey is the database key of a package: the base ecosystem in lower
// case and the package name as the ecosystem compares names.
func IndexKey(ecosystem, name string) string {
	eco := strings.ToLower(BaseEcosystem(ecosystem))
	return eco + "\x00" + NormalizeName(ecosystem, name)
}

// BaseEcosystem drops an OSV ecosystem's release suffix: "Debian:12" is
// "Debian", "Ubuntu:22.04:LTS" is "Ubuntu".
func BaseEcosystem(ecosystem string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	return strings.TrimSpace(base)
}

var pypiSeparators = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[-_.]+`) })

// NormalizeName returns the form of a package name that the ecosystem
// treats as identical: PEP 503 for PyPI; case-insensitive names for NuGet
// (package IDs), Packagist (vendor/package) and SwiftURL (a repository
// URL's host and path, with or without a scheme and ".git"); other
// ecosystems compare names exactly.
func NormalizeName(ecosystem, name string) string {
	switch strings.ToLower(BaseEcosystem(ecosystem)) {
	case "pypi":
		return pypiSeparators().ReplaceAllString(strings.ToLower(name), "-")
	case "nuget", "packagist":
		return strings.ToLower(name)
	case "swifturl":
		n := strings.ToLower(name)
		if _, rest, ok := strings.Cut(n, "://"); ok {
			n = rest
		}
		return strings.TrimSuffix(strings.TrimSuffix(n, "/"), ".git")
	}
	return name
}

// builder writes a new database file beside dest. Records are written in
// batches without fsync; commit writes the index and metadata, syncs the
// file and renames it over dest.
type builder struct {
	bolt  *bolt.DB
	tmp   string
	batch pending
	// cveBatch holds CVE entries by key (ID, NUL, source); repoBatch
	// content sets' CPEs by key (label, NUL, source). commit counts each
	// source's entries from the buckets.
	cveBatch  pending
	repoBatch pending
	// records are the records stored, by ID: one map, not one per
	// field, as it holds every record of the build, and the largest part
	// of an import's heap once the enrichment sources are read (about a
	// hundred bytes a record); its values are therefore numbers into the
	// tables below, not strings and lists of their own.
	records map[string]storedRecord
	// releases are the release-qualified ecosystems met of the
	// distributions in releaseRecorded (Metadata.Releases).
	releases map[string]bool
	// sources are the names of the sources, numbered by storedRecord.
	sources []string
	// keys are the distinct index keys met, numbered from 1 (keyIDs);
	// more holds the further keys of the records that have several.
	keys   []string
	keyIDs map[string]uint32
	more   []uint32
	// spellings holds the key number of the package spellings met last
	// (the base ecosystem's length, the base ecosystem and the name), so
	// that the key shared by the records of a package is mostly neither
	// computed nor looked up again (indexKey).
	spellings map[string]uint32
	scratch   []byte
	// maxTxNodes bounds the pages a transaction changes (maxTxNodes,
	// the constant, but for tests); txNodesPeak is the most one did.
	maxTxNodes, txNodesPeak int64
}

// pending is a batch of entries of one bucket, written in key order by
// put; of entries with the same key, the last added is written. Their
// keys and values are copied into one buffer, reused from batch to
// batch (bbolt copies a value into its page only at commit, so the
// buffer must hold until the batch's transaction is done, and no longer).
type pending struct {
	entries []pendingEntry
	buf     []byte
}

type pendingEntry struct {
	key, value []byte
	seq        int // the order added, to keep the last of a key
}

// add copies a key and value given as parts (each value part appended
// in turn) into the batch.
func (p *pending) add(key string, value ...[]byte) {
	start := len(p.buf)
	p.buf = append(p.buf, key...)
	mid := len(p.buf)
	for _, v := range value {
		p.buf = append(p.buf, v...)
	}
	// Slices of buf taken now stay valid if buf is later reallocated
	// (they keep the old array); full slice expressions, so that no
	// append through them reaches a neighbour.
	p.entries = append(p.entries, pendingEntry{key: p.buf[start:mid:mid], value: p.buf[mid:len(p.buf):len(p.buf)], seq: len(p.entries)})
}

// full reports whether the batch should be written: n entries, or its
// buffer past maxPendingBytes (a few records of megabytes each).
func (p *pending) full(n int) bool { return len(p.entries) >= n || len(p.buf) >= maxPendingBytes }

// maxPendingBytes bounds the bytes of one pending batch.
const maxPendingBytes = 32 << 20

// minKeptPending is the capacity up to which a pending batch's buffer
// is kept however little of it a batch used.
const minKeptPending = 256 << 10

// A builder writes its records in transactions of buildBatch records,
// CVE entries and content sets in transactions of 4×buildBatch. (Larger
// transactions were measured slower: bbolt holds every dirty node of a
// transaction in memory, and the collector scans them.)
const buildBatch = 2000

// maxTxNodes bounds the pages (bbolt's nodes) one transaction of a
// builder changes: 512 pages of 16 KiB are 8 MiB, held twice at commit
// (the nodes, and the pages they are written to).
const maxTxNodes = 512

// storedRecord is what a builder remembers of a record it stored: its
// source (a number into builder.sources) and its index keys: key, a
// number into builder.keys (0 for a record without affected packages),
// then nMore numbers from builder.more at offset moreAt (most records
// name one package, in one or more releases). Sixteen bytes, so that a
// map slot of it and its ID is 32 (with strings and a list, 72).
type storedRecord struct {
	source, key   uint32
	moreAt, nMore uint32
}

// buildMmapSize is the mapping a builder starts with: more than a
// database with every source (about 600 MiB).
const buildMmapSize = 1 << 30

// recordsFillPercent is how full the records bucket's pages are left
// when they split. A source's IDs arrive largely in ascending runs (a
// prefix and a sequence number; the batches are sorted), and a page
// split at bbolt's default half behind such a run stays half empty; a
// fuller split means fewer pages to write and a smaller file (at 10 %
// scale of the import benchmark, 54 MiB instead of 72 MiB).
const recordsFillPercent = 0.9

// buildPageSize is the page size of a database file (readers take it
// from the file). bbolt writes each dirty page of a transaction with a
// system call of its own; with kilobyte-sized records, 4 KiB pages meant
// one call for every three or four records, and about a tenth of an
// import's CPU. At 16 KiB the import is measured about 8 % faster and
// the file a tenth smaller (its records' pages split fuller); 64 KiB was
// no faster.
const buildPageSize = 16 << 10

func newBuilder(dest string) (*builder, error) {
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vulnerability database directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".build-*.db")
	if err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	tmp := f.Name()
	f.Close()
	// The file is built without any fsync (NoSync, NoGrowSync: a growth
	// of the file was a truncate and an fsync each time) and without a
	// free list on disk: nobody reads it before commit, which syncs it
	// whole before renaming it into place, so it is durable at the
	// rename and a crash before leaves only a temporary file.
	opts := &bolt.Options{NoSync: true, NoGrowSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType, Timeout: time.Second,
		PageSize: buildPageSize}
	if runtime.GOOS != "windows" && strconv.IntSize == 64 {
		// Address space, not memory: bbolt re-maps the file each time it
		// outgrows its mapping, and copies every node it holds out of the
		// old mapping (about a fifth of the writer's CPU in a profile at
		// 10 % scale). On Windows the file itself would grow to this size.
		opts.InitialMmapSize = buildMmapSize
	}
	b, err := bolt.Open(tmp, 0o644, opts)
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database %s: %w", tmp, err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketRecords, bucketIndex, bucketCVEs, bucketRepositories} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database %s: %w", tmp, err)
	}
	return &builder{bolt: b, tmp: tmp, records: map[string]storedRecord{}, releases: map[string]bool{}, keyIDs: map[string]uint32{},
		spellings: map[string]uint32{}, maxTxNodes: maxTxNodes}, nil
}

// add stores a record of a source. A record with the same ID as an earlier
// one replaces it: the last source wins.
func (b *builder) add(source string, rec *Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record %s: %w", rec.ID, err)
	}
	return b.store(source, rec, []byte(source), []byte{0}, data)
}

// addCompact stores a record read from its JSON as published, already
// stripped of the whitespace between tokens (appendStripped, by the
// reader's workers): the JSON is kept rather than encoded again from rec
// (a fifth of an import's CPU). Fields Record does not know stay in the
// stored JSON; readers ignore them.
func (b *builder) addCompact(source string, rec *Record, compact []byte) error {
	return b.store(source, rec, []byte(source), []byte{0}, compact)
}

// addStored stores a record carried from an earlier database: stored
// is its stored value (source, NUL, compact JSON) as it was.
func (b *builder) addStored(source string, rec *Record, stored []byte) error {
	return b.store(source, rec, stored)
}

// appendStripped appends the JSON value raw without the whitespace
// between its tokens. raw must be valid JSON (it was decoded already):
// only strings need care, which a byte loop follows far faster than
// json.Compact's validating scanner.
func appendStripped(dst, raw []byte) []byte {
	var str jsonenc.Strings
	start := 0
	for i, c := range raw {
		if !str.Inside(c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

// store keeps the value given in parts (source, NUL, the record's
// JSON; copied) under the record's ID and notes the index keys of its
// affected packages.
func (b *builder) store(source string, rec *Record, value ...[]byte) error {
	r := storedRecord{source: b.sourceNumber(source), moreAt: uint32(len(b.more))}
	for _, a := range rec.Affected {
		if base, rel, ok := strings.Cut(a.Package.Ecosystem, ":"); ok && rel != "" && releaseRecorded(base) && !b.releases[a.Package.Ecosystem] {
			b.releases[strings.Clone(a.Package.Ecosystem)] = true
		}
		k := b.indexKey(a.Package)
		switch {
		case r.key == 0:
			r.key = k
		case k != r.key && !slices.Contains(b.more[r.moreAt:], k):
			b.more = append(b.more, k)
			r.nMore++
		}
	}
	b.records[rec.ID] = r
	b.batch.add(rec.ID, value...)
	if b.batch.full(buildBatch) {
		return b.flush()
	}
	return nil
}

// sourceNumber is the number of a source's name in b.sources. A build
// reads a few dozen sources, one after the other.
func (b *builder) sourceNumber(source string) uint32 {
	if n := len(b.sources); n > 0 && b.sources[n-1] == source {
		return uint32(n - 1)
	}
	if i := slices.Index(b.sources, source); i >= 0 {
		return uint32(i)
	}
	b.sources = append(b.sources, source)
	return uint32(len(b.sources) - 1)
}

// indexKey is the number of IndexKey(p.Ecosystem, p.Name) in b.keys,
// the key computed once for each spelling of a package (its ecosystem
// without the release) among the last maxIndexKeys met.
func (b *builder) indexKey(p Package) uint32 {
	// IndexKey reads the ecosystem's base only ("Debian:12" is "Debian").
	eco := BaseEcosystem(p.Ecosystem)
	// The ecosystem's length first: a name is any string.
	b.scratch = binary.AppendUvarint(b.scratch[:0], uint64(len(eco)))
	b.scratch = append(append(b.scratch, eco...), p.Name...)
	if k, ok := b.spellings[string(b.scratch)]; ok {
		return k
	}
	key := IndexKey(p.Ecosystem, p.Name)
	k, ok := b.keyIDs[key]
	if !ok {
		b.keys = append(b.keys, key)
		k = uint32(len(b.keys)) // from 1: 0 is no key
		b.keyIDs[key] = k
	}
	if len(b.spellings) >= maxIndexKeys {
		// Forgotten, not grown: a key looked up again is the same key.
		clear(b.spellings)
	}
	b.spellings[string(b.scratch)] = k
	return k
}

// maxIndexKeys bounds the package spellings a builder remembers: the
// packages of a source's records repeat close together (one per release
// of a record, records of the same package in a row).
const maxIndexKeys = 1 << 14

// addCVE stores a source's information on a CVE. A later entry of the
// same source for the same CVE replaces the earlier one: NVD's yearly and
// "modified" feeds overlap, and the later feed is the newer.
func (b *builder) addCVE(source string, info *CVEInfo) error {
	key := info.ID + "\x00" + source
	data, err := encodeCVEInfo(info)
	if err != nil {
		return fmt.Errorf("CVE %s: %w", info.ID, err)
	}
	b.cveBatch.add(key, data)
	if b.cveBatch.full(4 * buildBatch) {
		return b.flush()
	}
	return nil
}

// addRepository stores a source's CPEs of a content set; each source
// names a content set once.
func (b *builder) addRepository(source, repo string, cpes []string) error {
	b.repoBatch.add(repo+"\x00"+source, []byte(strings.Join(cpes, "\n")))
	if b.repoBatch.full(4 * buildBatch) {
		return b.put(bucketRepositories, &b.repoBatch, "content set")
	}
	return nil
}

func (b *builder) flush() error {
	if err := b.put(bucketCVEs, &b.cveBatch, "CVE entry"); err != nil {
		return err
	}
	if err := b.put(bucketRepositories, &b.repoBatch, "content set"); err != nil {
		return err
	}
	return b.put(bucketRecords, &b.batch, "record")
}

// put writes a batch into a bucket in key order and empties it.
func (b *builder) put(bucket []byte, batch *pending, what string) error {
	if len(batch.entries) == 0 {
		return nil
	}
	entries := batch.entries
	slices.SortFunc(entries, func(x, y pendingEntry) int {
		if c := bytes.Compare(x.key, y.key); c != 0 {
			return c
		}
		return x.seq - y.seq
	})
	// A batch is written in as many transactions as it takes for none to
	// hold more than maxTxNodes of the bucket's pages: bbolt keeps every
	// page a transaction changes in memory, and a copy of it to write at
	// commit, so a batch whose keys are scattered among many stored ones
	// (EPSS entries between the NVD entries of the same CVEs: every page
	// of the range is changed) held tens of megabytes at once. The keys
	// are sorted, so the transactions cover disjoint ranges and each page
	// is still written once.
	var err error
	for next := 0; next < len(entries) && err == nil; {
		err = b.bolt.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucket)
			if bytes.Equal(bucket, bucketRecords) {
				bk.FillPercent = recordsFillPercent
			}
			for i := next; i < len(entries); i++ {
				e := entries[i]
				next = i + 1
				if i+1 < len(entries) && bytes.Equal(entries[i+1].key, e.key) {
					continue // replaced by a later entry
				}
				if err := bk.Put(e.key, e.value); err != nil {
					return fmt.Errorf("%s %q: %w", what, e.key, err)
				}
				st := tx.Stats()
				if n := st.GetNodeCount(); n >= b.maxTxNodes {
					b.txNodesPeak = max(b.txNodesPeak, n)
					return nil // the rest in the next transaction
				}
			}
			st := tx.Stats()
			b.txNodesPeak = max(b.txNodesPeak, st.GetNodeCount())
			return nil
		})
	}
	// The transaction is done (committed or rolled back): bbolt holds no
	// slice of the buffer any more.
	clear(entries) // no key or value kept reachable through the array
	batch.entries = entries[:0]
	if used := len(batch.buf); cap(batch.buf) > 2*used && cap(batch.buf) > minKeptPending {
		// Written before it was full (by another bucket's flush, or a
		// source's last records), or far smaller than the largest batch
		// before it: a buffer sized for the largest batch ever seen would
		// stay that large for the rest of the build (a records batch's
		// megabytes held through the whole NVD and EPSS reads).
		batch.buf = nil
	} else {
		batch.buf = batch.buf[:0]
	}
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", b.tmp, err)
	}
	return nil
}

// countBySource counts the entries of a bucket keyed "<id>\x00<source>"
// per source: one pass over the keys at commit, instead of a lookup for
// every entry added (NVD's yearly and modified feeds repeat CVEs).
func (b *builder) countBySource(bucket []byte) (map[string]int, error) {
	counts := map[string]int{}
	err := b.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if i := bytes.IndexByte(k, 0); i >= 0 {
				counts[string(k[i+1:])]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", b.tmp, err)
	}
	return counts, nil
}

// commit completes the file and renames it over dest. meta's counts are
// filled in from what was added.
func (b *builder) commit(meta Metadata, dest string) (Metadata, error) {
	if err := b.flush(); err != nil {
		return meta, err
	}
	// The IDs of each key, by key number.
	index := make([][]string, len(b.keys)+1)
	meta.Ecosystems = map[string]int{}
	perSource := make([]int, len(b.sources))
	var ecos []string // of one record, each once
	for id, r := range b.records {
		ecos = ecos[:0]
		var ecoSet map[string]bool // for a record of many packages
		for i := -1; i < int(r.nMore); i++ {
			kn := r.key
			if i >= 0 {
				kn = b.more[r.moreAt+uint32(i)]
			}
			if kn == 0 {
				break // no affected package
			}
			index[kn] = append(index[kn], id)
			eco, _, _ := strings.Cut(b.keys[kn-1], "\x00")
			// Records name a few ecosystems (one, most often): a list
			// is cheaper than a set, up to a point.
			if ecoSet == nil && len(ecos) == 16 {
				ecoSet = make(map[string]bool)
				for _, e := range ecos {
					ecoSet[e] = true
				}
			}
			switch {
			case ecoSet != nil:
				if !ecoSet[eco] {
					ecoSet[eco] = true
					meta.Ecosystems[eco]++
				}
			case !slices.Contains(ecos, eco):
				ecos = append(ecos, eco)
				meta.Ecosystems[eco]++
			}
		}
		perSource[r.source]++
	}
	// Ecosystem counts keep OSV's spelling of the name where known.
	named := map[string]int{}
	for eco, n := range meta.Ecosystems {
		named[displayEcosystem(eco)] = n
	}
	meta.Ecosystems = named
	meta.Releases = slices.Sorted(maps.Keys(b.releases))
	meta.Records = len(b.records)
	cveCounts, err := b.countBySource(bucketCVEs)
	if err != nil {
		return meta, err
	}
	repoCounts, err := b.countBySource(bucketRepositories)
	if err != nil {
		return meta, err
	}
	meta.CVEs = 0
	for i := range meta.Sources {
		meta.Sources[i].Records = 0
		if n := slices.Index(b.sources, meta.Sources[i].Name); n >= 0 {
			meta.Sources[i].Records = perSource[n]
		}
		meta.Sources[i].CVEs = cveCounts[meta.Sources[i].Name]
		meta.Sources[i].Repositories = repoCounts[meta.Sources[i].Name]
		meta.CVEs += meta.Sources[i].CVEs
	}
	meta.SchemaVersion = SchemaVersion
	order := make([]uint32, 0, len(b.keys))
	for kn := range b.keys {
		if len(index[kn+1]) > 0 {
			order = append(order, uint32(kn+1))
		}
	}
	slices.SortFunc(order, func(x, y uint32) int { return strings.Compare(b.keys[x-1], b.keys[y-1]) })
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return meta, err
	}
	err = b.bolt.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIndex)
		idx.FillPercent = 1.0 // keys arrive in order
		for _, kn := range order {
			ids := index[kn]
			sort.Strings(ids)
			if err := idx.Put([]byte(b.keys[kn-1]), []byte(strings.Join(ids, "\n"))); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyMeta, metaJSON)
	})
	if err == nil {
		err = b.bolt.Sync()
	}
	if cerr := b.bolt.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(b.tmp)
	}
	if err == nil {
		err = os.Rename(b.tmp, dest)
	}
	if err == nil {
		err = syncDir(filepath.Dir(dest))
	}
	if err != nil {
		os.Remove(b.tmp)
		return meta, fmt.Errorf("write vulnerability database %s: %w", dest, err)
	}
	return meta, nil
}

// abort discards the file being built.
func (b *builder) abort() {
	b.bolt.Close()
	os.Remove(b.tmp)
}

var ecosystemNames = map[string]string{
	"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine", "red hat": "Red Hat",
	"go": "Go", "pypi": "PyPI", "npm": "npm", "maven": "Maven", "crates.io": "crates.io",
	"rubygems": "RubyGems", "nuget": "NuGet", "packagist": "Packagist", "wolfi": "Wolfi",
	"chainguard": "Chainguard", "almalinux": "AlmaLinux", "rocky linux": "Rocky Linux",
	"suse": "SUSE", "opensuse": "openSUSE", "amazon linux": "Amazon Linux",
	"pub": "Pub", "swifturl": "SwiftURL", "oracle linux": "Oracle Linux", "photon os": "Photon OS",
	"mariner": "Mariner", "azure linux": "Azure Linux", "fedora": "Fedora", "hex": "Hex",
	"node.js": "Node.js", "cpython": "CPython", "openjdk": "OpenJDK", "openssl": "OpenSSL", "conancenter": "ConanCenter",
}

func displayEcosystem(lower string) string {
	if n, ok := ecosystemNames[lower]; ok {
		return n
	}
	return lower
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory; the rename is still atomic.
	_ = d.Sync()
	return nil
}
