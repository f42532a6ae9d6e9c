// Package vulndb keeps the vulnerability database that image scans match
// packages against: OSV records (https://ossf.github.io/osv-schema/), the
// one internal model of advisories, indexed by (ecosystem, package) in a
// bbolt file under the cache directory. Vendors' own formats are read and
// normalised into it (Amazon's ALAS updateinfo.xml), and CVE enrichment
// (NVD's scores, CISA KEV, EPSS, the Debian Security Tracker's fix
// states) is kept beside it by CVE ID.
//
// The database is replaced, never modified: an update or import builds a
// complete new file beside the live one, syncs it and renames it over the
// old one, so a failed download, a corrupt archive or a rejected bundle
// leaves the previous database as it was. See docs/vulndb.md.
package vulndb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvCacheDir names the environment variable that sets the cache directory
// when --cache-dir is not given.
const EnvCacheDir = "PALISADE_CACHE_DIR"

// CacheDir resolves the cache directory: the flag if set, else
// $PALISADE_CACHE_DIR, else the user cache directory's "palisade".
func CacheDir(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if d := getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w (set --cache-dir or %s)", err, EnvCacheDir)
	}
	return filepath.Join(base, "palisade"), nil
}

// Cache is a cache directory; the vulnerability database lives in its
// vulndb/ subdirectory.
type Cache struct {
	Dir string
	// Program is the binary that errors telling the user to rebuild the
	// database name (`palisade-scan db update`); "" means DefaultProgram.
	Program string
}

// DBPath is the live database file.
func (c Cache) DBPath() string { return filepath.Join(c.Dir, "vulndb", "osv.db") }

// Open opens the live database read-only.
func (c Cache) Open(ctx context.Context) (*DB, error) { return open(ctx, c.DBPath(), c.Program) }

// openOld opens the live database for carrying sources into a rebuild. A
// missing or unreadable database is no error: the rebuild replaces it.
func (c Cache) openOld(ctx context.Context) *DB {
	db, err := c.Open(ctx)
	if err != nil {
		return nil
	}
	return db
}

// ImportResult reports an import of a directory or zip of OSV records.
type ImportResult struct {
	Source    SourceState `json:"source"`
	Withdrawn int         `json:"withdrawn"`
	// Errors are the first invalid records skipped (Source.Skipped counts all).
	Errors   []string `json:"errors,omitempty"`
	Metadata Metadata `json:"metadata"`
}

// ImportOSV imports a directory or zip of OSV JSON records as the source
// called name (the base name of path when name is empty), replacing an
// earlier import of that name and keeping every other source.
func (c Cache) ImportOSV(ctx context.Context, path, name string, now time.Time) (*ImportResult, error) {
	return c.Import(ctx, path, name, FormatOSV, now)
}

// Import imports a file or directory of a source format (see Formats; ""
// is the format FormatOf the name implies) as the source called name,
// replacing an earlier import of that name and keeping every other
// source.
func (c Cache) Import(ctx context.Context, path, name, format string, now time.Time) (*ImportResult, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = filepath.Base(abs)
		for _, ext := range []string{".gz", ".zip", ".json", ".csv"} {
			name = strings.TrimSuffix(name, ext)
		}
	}
	if format == "" {
		format = FormatOf(name)
	}
	if !ValidFormat(format) {
		return nil, fmt.Errorf("import %s: unknown format %q (want one of %s)", path, format, strings.Join(Formats, ", "))
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	old := c.openOld(ctx)
	var inputs []buildInput
	if old != nil {
		defer old.Close()
		for _, s := range old.meta.Sources {
			if s.Name != name {
				inputs = append(inputs, buildInput{state: s})
			}
		}
	}
	state := SourceState{Name: name, Kind: KindFile, Format: format, Location: abs, Fetched: now, Checked: now}
	inputs = append(inputs, buildInput{state: state, path: abs})
	meta, stats, err := c.rebuild(ctx, old, inputs, now)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	st := stats[len(stats)-1]
	res := &ImportResult{Withdrawn: st.withdrawn, Errors: st.errors, Metadata: meta}
	for _, s := range meta.Sources {
		if s.Name == name {
			res.Source = s
		}
	}
	return res, nil
}

// buildInput is one source of a rebuild: records read from path, or, when
// path is empty, carried over from the old database.
type buildInput struct {
	state SourceState
	path  string
}

// rebuild writes a new database from inputs and swaps it in.
func (c Cache) rebuild(ctx context.Context, old *DB, inputs []buildInput, now time.Time) (Metadata, []readStats, error) {
	b, err := newBuilder(c.DBPath())
	if err != nil {
		return Metadata{}, nil, err
	}
	meta := Metadata{Built: now}
	stats := make([]readStats, len(inputs))
	for i, in := range inputs {
		name := in.state.Name
		add := func(rec *Record) error { return b.add(name, rec) }
		addCompact := func(rec *Record, compact []byte) error { return b.addCompact(name, rec, compact) }
		addStored := func(rec *Record, stored []byte) error { return b.addStored(name, rec, stored) }
		addCVE := func(info *CVEInfo) error { return b.addCVE(name, info) }
		addRepo := func(repo string, cpes []string) error { return b.addRepository(name, repo, cpes) }
		enrich := isEnrichment(in.state.Format)
		if in.path == "" {
			if old == nil {
				b.abort()
				return meta, nil, fmt.Errorf("source %s: no previous database to keep it from", name)
			}
			keep := func() error {
				if in.state.Format == FormatRedHatCPE {
					return old.forEachRepositoryOf(ctx, name, addRepo)
				}
				if !enrich || in.state.Format == FormatNVD {
					if err := old.forEachOf(ctx, name, addStored); err != nil {
						return err
					}
				}
				if enrich || carriesCVEs(in.state.Format) {
					return old.forEachCVEOf(ctx, name, addCVE)
				}
				return nil
			}
			if err := keep(); err != nil {
				b.abort()
				return meta, nil, fmt.Errorf("source %s: keep from %s: %w", name, old.path, err)
			}
		} else {
			var st readStats
			var err error
			switch {
			case in.state.Format == FormatNVD:
				st, err = readNVDSource(ctx, in.path, add, addCVE)
			case enrich:
				st, err = readCVEs(ctx, in.path, in.state.Format, addCVE)
			case in.state.Format == FormatALAS:
				st, err = readALAS(ctx, in.path, name, add)
			case in.state.Format == FormatRedHatVEX:
				st, err = readRedHatVEX(ctx, in.path, add, addCVE)
			case in.state.Format == FormatOVAL:
				st, err = readOVAL(ctx, in.path, name, add)
			case in.state.Format == FormatPhoton:
				st, err = readPhoton(ctx, in.path, name, add)
			case in.state.Format == FormatRedHatCPE:
				st, err = readRepositoryCPEs(ctx, in.path, addRepo)
			case in.state.Format == FormatBodhi:
				st, err = readBodhi(ctx, in.path, add)
			default:
				st, err = readRecords(ctx, in.path, addCompact)
			}
			if err != nil {
				b.abort()
				return meta, nil, fmt.Errorf("source %s: %w", name, err)
			}
			stats[i] = st
			in.state.Skipped = st.skipped
		}
		meta.Sources = append(meta.Sources, in.state)
	}
	for _, s := range meta.Sources {
		if meta.Updated.IsZero() || s.Checked.Before(meta.Updated) {
			meta.Updated = s.Checked
		}
	}
	if err := ctx.Err(); err != nil {
		b.abort()
		return meta, nil, err
	}
	meta, err = b.commit(meta, c.DBPath())
	return meta, stats, err
}

// Status describes the live database for `palisade db status` and for the
// staleness warning of scans.
type Status struct {
	Path    string        `json:"path"`
	Exists  bool          `json:"exists"`
	Built   time.Time     `json:"built,omitzero"`
	Updated time.Time     `json:"updated,omitzero"`
	Age     time.Duration `json:"age"`
	// AgeText is Age rounded for people ("3h0m0s").
	AgeText    string         `json:"ageText,omitempty"`
	Records    int            `json:"records"`
	Ecosystems map[string]int `json:"ecosystems,omitempty"`
	Sources    []SourceState  `json:"sources,omitempty"`
	// Stale is true when Age exceeds MaxAge.
	Stale  bool          `json:"stale"`
	MaxAge time.Duration `json:"maxAge"`
}

// Status reports the live database. A missing database is not an error:
// Exists is false.
func (c Cache) Status(ctx context.Context, now time.Time, maxAge time.Duration) (*Status, error) {
	st := &Status{Path: c.DBPath(), MaxAge: maxAge}
	db, err := c.Open(ctx)
	if errors.Is(err, ErrNoDatabase) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	m := db.Metadata()
	st.Exists = true
	st.Built, st.Updated = m.Built, m.Updated
	st.Records, st.Ecosystems, st.Sources = m.Records, m.Ecosystems, m.Sources
	st.Age = m.Age(now)
	st.AgeText = st.Age.Round(time.Minute).String()
	st.Stale = m.Stale(now, maxAge)
	return st, nil
}

// DefaultMaxAge is the age after which scans warn that the database is stale.
const DefaultMaxAge = 7 * 24 * time.Hour

// Age is how long ago every source was last found current.
func (m Metadata) Age(now time.Time) time.Duration {
	if m.Updated.IsZero() {
		return now.Sub(m.Built)
	}
	return now.Sub(m.Updated)
}

// Stale reports whether the database is older than maxAge; maxAge <= 0
// disables the check.
func (m Metadata) Stale(now time.Time, maxAge time.Duration) bool {
	return maxAge > 0 && m.Age(now) > maxAge
}

// StaleWarning returns the warning a scan should print for a database older
// than maxAge, or "" when it is fresh enough. program is the binary the
// warning tells the user to run ("palisade-scan"; ProgramName).
func (m Metadata) StaleWarning(now time.Time, maxAge time.Duration, program string) string {
	if !m.Stale(now, maxAge) {
		return ""
	}
	return fmt.Sprintf("the vulnerability database was last updated %s ago (older than %s): run `%s db update`, or import a newer bundle",
		m.Age(now).Round(time.Hour), maxAge, ProgramName(program))
}

// DefaultProgram is the binary that messages telling the user what to run
// name when their caller names none.
const DefaultProgram = "palisade"

// ProgramName returns program, or DefaultProgram when it is empty: the
// binary a message's `db update` advice names, which only the caller knows
// (`palisade`, the lean `palisade-scan`).
func ProgramName(program string) string {
	if program == "" {
		return DefaultProgram
	}
	return program
}
