package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestSQLiteStateFilesPrivate checks that every file SQLite makes beside
// the database (the -wal and -shm files hold hub_secrets as much as the
// database does) is 0600 and the state directory 0700, whatever the
// process umask: a hub started from a shell with the usual 022 umask once
// left its CA key world-readable in hub.db-wal.
func TestSQLiteStateFilesPrivate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		preexist bool // database, WAL and SHM left 0644 by an older hub
	}{
		{"fresh", false},
		{"existing world-readable files", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			db := filepath.Join(dir, "hub.db")
			if tc.preexist {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				for _, f := range []string{db, db + "-wal", db + "-shm"} {
					if err := os.WriteFile(f, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			s, err := store.Open(context.Background(), "sqlite://"+db)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Secret(context.Background(), "ca-key", func() ([]byte, error) { return []byte("private key"), nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnsureCluster(context.Background(), "edge-1", t0); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, e := range entries {
				fi, err := e.Info()
				if err != nil {
					t.Fatal(err)
				}
				seen[e.Name()] = true
				if perm := fi.Mode().Perm(); perm&0o077 != 0 {
					t.Errorf("%s: mode %o, want no group or other access", e.Name(), perm)
				}
			}
			for _, want := range []string{"hub.db", "hub.db-wal", "hub.db-shm"} {
				if !seen[want] {
					t.Errorf("%s not in the state directory (have %v): the test no longer sees the WAL", want, seen)
				}
			}
			// A directory the hub creates is 0700; an existing one is the
			// operator's and keeps its mode.
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o700 {
				t.Errorf("state directory: mode %o, want 700", perm)
			}
		})
	}
}
