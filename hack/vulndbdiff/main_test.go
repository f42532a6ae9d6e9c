package main

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func writeDB(t *testing.T, path string, records map[string]string, built string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		m.Put([]byte("meta"), []byte(`{"built":"`+built+`","records":2,"sources":[{"name":"a","fetched":"`+built+`","records":2}]}`))
		r, _ := tx.CreateBucket([]byte("records"))
		for k, v := range records {
			r.Put([]byte(k), []byte(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompare(t *testing.T) {
	base := map[string]string{"A": "1", "B": "2"}
	for _, tc := range []struct {
		name    string
		records map[string]string
		want    int
	}{
		{"same content, other build time", base, 0},
		{"value differs", map[string]string{"A": "1", "B": "3"}, 1},
		{"key missing", map[string]string{"A": "1"}, 1},
		{"key added", map[string]string{"A": "1", "B": "2", "C": "3"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
			writeDB(t, a, base, "2026-01-01T00:00:00Z")
			writeDB(t, b, tc.records, "2026-02-02T00:00:00Z")
			out, err := os.Create(filepath.Join(dir, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			n, err := compare(a, b, out)
			if err != nil || n != tc.want {
				t.Errorf("compare = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}
