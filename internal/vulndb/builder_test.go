package vulndb

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// TestBuilderWritesWhatWasAdded builds a database of records added
// every way a builder is given them, across several of its batches, and
// checks every key and value of the records and index buckets and the
// counts of the metadata against a model: the last record of an ID wins
// (within a batch and across batches), a record's index keys are its
// packages' IndexKeys, each once, and a record counts once in each
// ecosystem it names.
func TestBuilderWritesWhatWasAdded(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "vulndb.db")
	b, err := newBuilder(dest)
	if err != nil {
		t.Fatal(err)
	}
	wantRecords := map[string]string{}       // ID -> stored value
	wantKeys := map[string]map[string]bool{} // ID -> index keys
	wantSource := map[string]string{}        // ID -> source
	pkgs := func(ps ...Package) []Affected {
		out := make([]Affected, len(ps))
		for i, p := range ps {
			out[i].Package = p
		}
		return out
	}
	addCompact := func(source, id string, affected []Affected) {
		t.Helper()
		js := fmt.Sprintf(`{"id":%q,"n":%d}`, id, len(wantRecords))
		if err := b.addCompact(source, &Record{ID: id, Affected: affected}, []byte(js)); err != nil {
			t.Fatal(err)
		}
		wantRecords[id] = source + "\x00" + js
		wantSource[id] = source
		wantKeys[id] = map[string]bool{}
		for _, a := range affected {
			wantKeys[id][IndexKey(a.Package.Ecosystem, a.Package.Name)] = true
		}
	}
	// A record of many packages in many ecosystems, each package in two
	// releases.
	var many []Package
	for i := range 40 {
		eco := fmt.Sprintf("Eco%d", i%20)
		name := fmt.Sprint("p", i)
		many = append(many, Package{Ecosystem: eco + ":1", Name: name}, Package{Ecosystem: eco + ":2", Name: name})
	}
	addCompact("s1", "MANY-1", pkgs(many...))
	addCompact("s1", "NONE-1", nil)
	// Names that the ecosystem normalises, and spellings that run
	// together the same way.
	addCompact("s1", "PY-1", pkgs(Package{Ecosystem: "PyPI", Name: "Zope.Interface"}, Package{Ecosystem: "PyPI", Name: "zope_interface"},
		Package{Ecosystem: "Debian:1", Name: "2a"}, Package{Ecosystem: "Debian:12", Name: "a"}))
	for i := range 2*buildBatch + 10 {
		id := fmt.Sprintf("D-%05d", (i*7919)%(2*buildBatch+10)) // not in key order
		addCompact("s1", id, pkgs(Package{Ecosystem: "Debian:11", Name: fmt.Sprint("pkg", i%50)},
			Package{Ecosystem: "Debian:12", Name: fmt.Sprint("pkg", i%50)}))
		if i%500 == 0 {
			// Replaced within the batch it is in.
			addCompact("s2", id, pkgs(Package{Ecosystem: "Alpine:v3.20", Name: "x"}))
		}
	}
	// More packages than the builder remembers the keys of, then again
	// the first ones.
	for i := range maxIndexKeys + 10 {
		addCompact("s1", fmt.Sprintf("K-%05d", i), pkgs(Package{Ecosystem: "npm", Name: fmt.Sprint("k", i)}))
	}
	addCompact("s1", "K-AGAIN", pkgs(Package{Ecosystem: "npm", Name: "k0"}, Package{Ecosystem: "PyPI", Name: "ZOPE.interface"}))
	// Replaced across batches, by another source.
	addCompact("s2", "D-00003", pkgs(Package{Ecosystem: "Ubuntu:22.04:LTS", Name: "y"}))
	// Carried from an earlier database, as stored.
	stored := "s3\x00" + `{"id":"OLD-1"}`
	if err := b.addStored("s3", &Record{ID: "OLD-1", Affected: pkgs(Package{Ecosystem: "Go", Name: "m"})}, []byte(stored)); err != nil {
		t.Fatal(err)
	}
	wantRecords["OLD-1"], wantSource["OLD-1"] = stored, "s3"
	wantKeys["OLD-1"] = map[string]bool{IndexKey("Go", "m"): true}

	meta, err := b.commit(Metadata{Built: time.Now(), Sources: []SourceState{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}}}, dest)
	if err != nil {
		t.Fatal(err)
	}

	wantIndex := map[string][]string{}
	wantEcos := map[string]int{}
	wantPerSource := map[string]int{}
	for id, keys := range wantKeys {
		ecos := map[string]bool{}
		for k := range keys {
			wantIndex[k] = append(wantIndex[k], id)
			eco, _, _ := strings.Cut(k, "\x00")
			ecos[displayEcosystem(eco)] = true
		}
		for eco := range ecos {
			wantEcos[eco]++
		}
		wantPerSource[wantSource[id]]++
	}
	if meta.Records != len(wantRecords) || !maps.Equal(meta.Ecosystems, wantEcos) {
		t.Errorf("metadata: %d records, ecosystems %v; want %d, %v", meta.Records, meta.Ecosystems, len(wantRecords), wantEcos)
	}
	for _, s := range meta.Sources {
		if s.Records != wantPerSource[s.Name] {
			t.Errorf("source %s: %d records, want %d", s.Name, s.Records, wantPerSource[s.Name])
		}
	}

	db, err := bolt.Open(dest, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Info().PageSize; got != buildPageSize {
		t.Errorf("page size %d, want %d", got, buildPageSize)
	}
	gotRecords, gotIndex := map[string]string{}, map[string][]string{}
	if err := db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			gotRecords[string(k)] = string(v)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketIndex).ForEach(func(k, v []byte) error {
			gotIndex[string(k)] = strings.Split(string(v), "\n")
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	equalEntries(t, "record", gotRecords, wantRecords)
	for k, ids := range wantIndex {
		slices.Sort(ids)
		if !slices.Equal(gotIndex[k], ids) {
			t.Errorf("index %q: %v, want %v", k, gotIndex[k], ids)
		}
	}
	if len(gotIndex) != len(wantIndex) {
		t.Errorf("%d index keys, want %d", len(gotIndex), len(wantIndex))
	}
}

// TestBuilderBoundsTransactionPages writes a batch of CVE entries whose
// keys fall between stored ones (as EPSS's do between NVD's: every page
// of the range changes) and checks that no transaction changed many more
// pages than the builder's bound (a Put may materialise a leaf and the
// branches above it), and that every entry was written, the last of a
// key winning, across the transactions the batch was split into.
func TestBuilderBoundsTransactionPages(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "vulndb.db")
	b, err := newBuilder(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.abort()
	const bound, depth = 8, 4
	b.maxTxNodes = bound
	want := map[string]string{}
	add := func(source, id string, score float64) {
		t.Helper()
		info := &CVEInfo{ID: id, EPSS: &EPSS{Score: score, Percentile: score, Date: "2025-06-01"}}
		if err := b.addCVE(source, info); err != nil {
			t.Fatal(err)
		}
		data, err := encodeCVEInfo(info)
		if err != nil {
			t.Fatal(err)
		}
		want[id+"\x00"+source] = string(data)
	}
	const n = 4 * buildBatch // one batch each
	for i := range n {
		add("nvd", fmt.Sprintf("CVE-2000-%05d", i), 0.5)
	}
	b.txNodesPeak = 0 // the first source's batch appended in order
	for i := range n {
		add("epss", fmt.Sprintf("CVE-2000-%05d", (i*7919)%n), 0.25)
		if i%1000 == 999 {
			add("epss", fmt.Sprintf("CVE-2000-%05d", (i*7919)%n), 0.75) // the later wins
		}
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	if b.txNodesPeak > bound+depth {
		t.Errorf("a transaction changed %d pages, want at most %d", b.txNodesPeak, bound+depth)
	}
	got := map[string]string{}
	if err := b.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCVEs).ForEach(func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	equalEntries(t, "CVE entry", got, want)
}

// equalEntries fails the test when a bucket's entries are not want's,
// naming each that differs.
func equalEntries(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %q: %q, want %q", what, k, got[k], v)
		}
	}
	t.Fatalf("%d entries, want %d", len(got), len(want))
}

// TestStoredRecordSize keeps what a builder remembers of each record
// (every record of a build, the largest part of an import's heap once
// the enrichment sources are read) at sixteen bytes.
func TestStoredRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(storedRecord{}); got != 16 {
		t.Errorf("storedRecord is %d bytes, want 16", got)
	}
}

// TestPendingReleasesOversizedBuffer checks that a batch's buffer is
// not kept at the size of the largest batch once a batch uses far less
// of it, and is kept while batches fill it.
func TestPendingReleasesOversizedBuffer(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "vulndb.db")
	b, err := newBuilder(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.abort()
	big := make([]byte, 1<<20)
	tests := []struct {
		name    string
		entries int
		size    int
		kept    bool
	}{
		{"large batch", 4, len(big), true},
		{"as large again", 4, len(big), true},
		{"small batch after it", 2, 100, false},
		{"small batch again", 2, 100, true},
	}
	for i, tt := range tests {
		for j := range tt.entries {
			b.repoBatch.add(fmt.Sprintf("k%d-%d", i, j), big[:tt.size])
		}
		before := cap(b.repoBatch.buf)
		if err := b.put(bucketRepositories, &b.repoBatch, "content set"); err != nil {
			t.Fatal(err)
		}
		if kept := cap(b.repoBatch.buf) == before; kept != tt.kept {
			t.Errorf("%s: buffer of %d bytes kept %v, want %v", tt.name, before, kept, tt.kept)
		}
	}
}
