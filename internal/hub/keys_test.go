package hub

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testKeyFiles(dir string) KeyFiles {
	return KeyFiles{CAKey: filepath.Join(dir, "keys", "ca.key"), BundleKey: filepath.Join(dir, "keys", "bundle-signing.key")}
}

// keyBytes returns the secret parts of the hub's keys as they could sit in
// a database file: the DER of each private key and the base64 of its PEM.
func keyBytes(t *testing.T, kf KeyFiles) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range []string{kf.CAKey, kf.BundleKey} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", f)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		out = append(out, blk.Bytes, []byte(lines[1]))
	}
	return out
}

// dbHolds reports which of secrets appear in the SQLite files of path.
func dbHolds(t *testing.T, path string, secrets [][]byte) []string {
	t.Helper()
	var found []string
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for i, s := range secrets {
			if bytes.Contains(b, s) {
				found = append(found, filepath.Base(f)+": key part "+string(rune('0'+i)))
			}
		}
	}
	return found
}

func TestKeysLiveInPrivateFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	st, err := store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	kf := testKeyFiles(dir)
	h, err := New(ctx, Config{Store: st, Keys: kf, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fp := h.CAFingerprint()
	for _, f := range []string{kf.CAKey, kf.BundleKey} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Dir(kf.CAKey)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v %v, want 0700", fi.Mode(), err)
	}
	for _, name := range []string{legacySecretCA, legacySecretBKey} {
		if _, err := st.LookupSecret(ctx, name); err == nil {
			t.Errorf("secret %s in the database", name)
		}
	}
	st.Close()
	if found := dbHolds(t, dbPath, keyBytes(t, kf)); len(found) > 0 {
		t.Errorf("database files hold key material: %v", found)
	}

	// Restarted with the same files: the same hub.
	st, err = store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h2, err := New(ctx, Config{Store: st, Keys: kf, Logger: quietLogger()})
	if err != nil || h2.CAFingerprint() != fp {
		t.Fatalf("restart: %v, CA %s want %s", err, h2.CAFingerprint(), fp)
	}
	// A replica without the files, or with another hub's, refuses.
	other := testKeyFiles(t.TempDir())
	for name, keys := range map[string]KeyFiles{"no files": {}, "missing files": other} {
		if _, err := New(ctx, Config{Store: st, Keys: keys, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "--ca-key-file") {
			t.Errorf("%s: %v, want a refusal naming --ca-key-file", name, err)
		}
		if _, err := os.Stat(other.CAKey); err == nil {
			t.Fatalf("%s: a refused replica wrote a key file", name)
		}
	}
	foreign := t.TempDir()
	if _, err := New(ctx, Config{Store: newStore(t), Keys: testKeyFiles(foreign), Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, Config{Store: st, Keys: testKeyFiles(foreign), Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "not the key of this hub") {
		t.Errorf("another hub's key files: %v", err)
	}
	// Key files others can read are refused.
	if err := os.Chmod(kf.CAKey, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, Config{Store: st, Keys: kf, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
}

func newStore(t *testing.T) store.Store {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestLegacyKeysMoveOutOfTheDatabase: a database from before key files
// keeps its CA (agents pin it) while the keys move to files and their
// rows are wiped, file pages and WAL included.
func TestLegacyKeysMoveOutOfTheDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	st, err := store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := st.Secret(ctx, legacySecretCA, newCAPEM)
	if err != nil {
		t.Fatal(err)
	}
	bkPEM, err := st.Secret(ctx, legacySecretBKey, newBundleKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	old, err := parseCA(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	oldBK, _ := parseBundleKey(bkPEM)
	kf := testKeyFiles(dir)
	var logs bytes.Buffer
	h, err := New(ctx, Config{Store: st, Keys: kf, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if h.CAFingerprint() != Fingerprint(old.cert.Raw) || !h.BundlePublicKey().Equal(oldBK.Public().(ed25519.PublicKey)) {
		t.Fatal("migration changed the hub's keys")
	}
	if !strings.Contains(logs.String(), "private key moved out of the database") {
		t.Errorf("no message about the move: %s", logs.String())
	}
	for _, name := range []string{legacySecretCA, legacySecretBKey} {
		if _, err := st.LookupSecret(ctx, name); err == nil {
			t.Errorf("secret %s still in the database", name)
		}
	}
	es, _ := h.AuditEvents(ctx, 10)
	n := 0
	for _, e := range es {
		if e.Action == AuditKeysMigrated {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d keys.migrated audit events, want 2: %+v", n, es)
	}
	st.Close()
	if found := dbHolds(t, dbPath, keyBytes(t, kf)); len(found) > 0 {
		t.Errorf("database files still hold key material after the move: %v", found)
	}
}

// racingStore stands in for a second replica that writes the key file and
// then the public record between this replica's read of the key directory
// and its lookup of the public record.
type racingStore struct {
	store.Store
	race func()
}

func (r racingStore) LookupSecret(ctx context.Context, name string) ([]byte, error) {
	if r.race != nil && (name == secretCACert || name == secretBundlePub) {
		r.race()
	}
	return r.Store.LookupSecret(ctx, name)
}

// TestKeyFileWrittenByAnotherReplicaMeanwhile: replicas started at once on
// one database and key directory. The first writes the key file, then the
// public record; the second read the directory before the file existed and
// finds the record: it must take the file, not refuse to start (which made
// TestReplicasShareKeyFiles flaky).
func TestKeyFileWrittenByAnotherReplicaMeanwhile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kf := testKeyFiles(dir)
	st := newStore(t)
	// The first replica, run to completion, provides the files and records.
	first := filepath.Join(t.TempDir(), "first")
	firstFiles := testKeyFiles(first)
	if _, _, err := loadKeys(ctx, st, firstFiles, quietLogger()); err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	race := func() {
		for _, p := range [][2]string{{firstFiles.CAKey, kf.CAKey}, {firstFiles.BundleKey, kf.BundleKey}} {
			if copied[p[1]] {
				continue
			}
			b, err := os.ReadFile(p[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := writeKeyFile(p[1], b); err != nil {
				t.Fatal(err)
			}
			copied[p[1]] = true
		}
	}
	km, _, err := loadKeys(ctx, racingStore{Store: st, race: race}, kf, quietLogger())
	if err != nil {
		t.Fatalf("second replica: %v", err)
	}
	want, _, err := loadKeys(ctx, st, firstFiles, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(km.ca.cert.Raw, want.ca.cert.Raw) || !km.bundleKey.Equal(want.bundleKey) {
		t.Error("the second replica took other keys than the first's")
	}
}
