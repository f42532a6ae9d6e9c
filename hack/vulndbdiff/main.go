// Command vulndbdiff compares the content of two vulnerability database
// files, bucket by bucket and key by key, for checking that a change to
// the import writes the same database (bench/README.md, "Same database
// content"). The file layout (pages, fill) may differ; the content may
// not. The meta bucket differs by its build times, so it is compared
// without them: its per-source counts and hashes must be equal.
//
//	go run ./hack/vulndbdiff BEFORE.db AFTER.db
//
// It exits 0 when the contents are equal, 1 when they differ (naming the
// first differences) and 2 on an error.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vulndbdiff BEFORE.db AFTER.db")
		os.Exit(2)
	}
	diffs, err := compare(os.Args[1], os.Args[2], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndbdiff:", err)
		os.Exit(2)
	}
	if diffs > 0 {
		os.Exit(1)
	}
}

const maxShown = 10

func open(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// compare reports the differences of two files' buckets on out and
// returns how many there are.
func compare(pathA, pathB string, out *os.File) (int, error) {
	a, err := open(pathA)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := open(pathB)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	diffs := 0
	report := func(format string, args ...any) {
		if diffs++; diffs <= maxShown {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	err = a.View(func(ta *bolt.Tx) error {
		return b.View(func(tb *bolt.Tx) error {
			names := map[string]bool{}
			for _, tx := range []*bolt.Tx{ta, tb} {
				if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
					names[string(name)] = true
					return nil
				}); err != nil {
					return err
				}
			}
			for name := range names {
				ba, bb := ta.Bucket([]byte(name)), tb.Bucket([]byte(name))
				if ba == nil || bb == nil {
					report("bucket %q: only in one file", name)
					continue
				}
				if name == "meta" {
					if err := compareMeta(ba, bb, report); err != nil {
						return err
					}
					continue
				}
				n := compareBucket(name, ba, bb, report)
				fmt.Fprintf(out, "bucket %s: %d keys compared\n", name, n)
			}
			return nil
		})
	})
	if diffs > maxShown {
		fmt.Fprintf(out, "... %d differences in all\n", diffs)
	}
	return diffs, err
}

// compareBucket walks two buckets' keys in order together and returns
// how many keys it saw.
func compareBucket(name string, a, b *bolt.Bucket, report func(string, ...any)) int {
	ca, cb := a.Cursor(), b.Cursor()
	ka, va := ca.First()
	kb, vb := cb.First()
	n := 0
	for ka != nil || kb != nil {
		n++
		switch c := compareKeys(ka, kb); {
		case c < 0:
			report("%s %q: only in the first file", name, ka)
			ka, va = ca.Next()
		case c > 0:
			report("%s %q: only in the second file", name, kb)
			kb, vb = cb.Next()
		default:
			if !bytes.Equal(va, vb) {
				report("%s %q: values differ", name, ka)
			}
			ka, va = ca.Next()
			kb, vb = cb.Next()
		}
	}
	return n
}

// compareKeys orders keys as a cursor walks them, nil (the end) last.
func compareKeys(a, b []byte) int {
	switch {
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}

// compareMeta compares the metadata without its build and check times.
func compareMeta(a, b *bolt.Bucket, report func(string, ...any)) error {
	var ma, mb map[string]any
	if err := json.Unmarshal(a.Get([]byte("meta")), &ma); err != nil {
		return fmt.Errorf("meta of the first file: %w", err)
	}
	if err := json.Unmarshal(b.Get([]byte("meta")), &mb); err != nil {
		return fmt.Errorf("meta of the second file: %w", err)
	}
	for _, m := range []map[string]any{ma, mb} {
		delete(m, "built")
		delete(m, "updated")
		if sources, ok := m["sources"].([]any); ok {
			for _, s := range sources {
				if s, ok := s.(map[string]any); ok {
					delete(s, "fetched")
					delete(s, "checked")
					// The benchmark's server port and file times.
					delete(s, "location")
					delete(s, "lastModified")
					delete(s, "etag")
				}
			}
		}
	}
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	if !bytes.Equal(ja, jb) {
		report("meta differs beyond build times:\n  %s\n  %s", ja, jb)
	}
	return nil
}
