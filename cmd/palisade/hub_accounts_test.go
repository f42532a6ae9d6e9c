package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHubKeyFileLocations(t *testing.T) {
	env := map[string]string{"HOME": "/home/a"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name, database, dataDir, caFlag string
		wantCA, wantBundle              string
	}{
		{"data dir", "", "/srv/hub", "", "/srv/hub/keys/ca.key", "/srv/hub/keys/bundle-signing.key"},
		{"default data dir", "", "", "", "/home/a/.local/state/palisade/hub/keys/ca.key", "/home/a/.local/state/palisade/hub/keys/bundle-signing.key"},
		{"sqlite file: beside it", "sqlite:///db/hub.db", "", "", "/db/keys/ca.key", "/db/keys/bundle-signing.key"},
		{"postgres: the data dir", "postgres://p@db/hub", "/srv/hub", "", "/srv/hub/keys/ca.key", "/srv/hub/keys/bundle-signing.key"},
		{"sqlite file and a data dir", "sqlite:///db/hub.db", "/srv/hub", "", "/srv/hub/keys/ca.key", "/srv/hub/keys/bundle-signing.key"},
	}
	for _, tt := range tests {
		loc, err := locateHubState(tt.database, tt.dataDir, getenv, 1000)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		kf, err := loc.keyFiles(tt.caFlag, "")
		if err != nil || kf.CAKey != tt.wantCA || kf.BundleKey != tt.wantBundle {
			t.Errorf("%s: %+v %v; want %s, %s", tt.name, kf, err, tt.wantCA, tt.wantBundle)
		}
	}
	// PostgreSQL: replicas share no default directory; the key files
	// are named (both flags), or the error says which flags to pass.
	loc, err := locateHubState("postgres://p@db/hub", "", getenv, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][2]string{{"", ""}, {"/run/secrets/ca.key", ""}} {
		if _, err := loc.keyFiles(flags[0], flags[1]); err == nil || !strings.Contains(err.Error(), "--ca-key-file") {
			t.Errorf("postgres with key flags %v: %v", flags, err)
		}
	}
	if kf, err := loc.keyFiles("/run/secrets/ca.key", "/run/secrets/bundle.key"); err != nil || kf.CAKey != "/run/secrets/ca.key" || kf.BundleKey != "/run/secrets/bundle.key" {
		t.Errorf("postgres with both flags: %+v %v", kf, err)
	}
}

// TestHubAccountCommands: the account commands an operator runs on the
// hub's host, against its data directory.
func TestHubAccountCommands(t *testing.T) {
	dir := t.TempDir()
	hubArgs := func(args ...string) []string { return append([]string{"hub", "--data-dir", dir}, args...) }
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		out, errOut, code := palisade(t, stdin, hubArgs(args...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out + errOut
	}
	run("root-password-1\n", exitClean, "user", "create", "--name", "root", "--role", "admin", "--init")
	run("bob-password-123\n", exitClean, "user", "create", "--name", "bob")
	for _, f := range []string{"ca.key", "bundle-signing.key"} {
		if fi, err := os.Stat(filepath.Join(dir, "keys", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("keys/%s: %v %v", f, fi, err)
		}
	}
	run("", exitClean, "user", "disable", "bob")
	var users struct {
		Users []struct {
			Name     string
			Disabled bool
		}
	}
	if err := json.Unmarshal([]byte(run("", exitClean, "user", "list", "-o", "json")), &users); err != nil || len(users.Users) != 2 || !users.Users[0].Disabled {
		t.Fatalf("user list: %+v %v", users, err)
	}
	run("", exitClean, "user", "enable", "bob")
	run("another-password-1\n", exitClean, "user", "passwd", "bob")
	run("", exitClean, "user", "role", "bob", "--role", "admin")
	run("", exitClean, "user", "logout", "bob")
	run("", exitClean, "user", "delete", "bob")
	if out := run("", exitError, "user", "delete", "root"); !strings.Contains(out, "last enabled admin") {
		t.Errorf("deleting the last admin: %s", out)
	}
	if out := run("", exitError, "user", "disable", "nobody"); !strings.Contains(out, "not found") {
		t.Errorf("unknown user: %s", out)
	}

	tok := strings.TrimSpace(run("", exitClean, "token", "create-api", "--name", "ci"))
	run("", exitClean, "token", "create-api", "--name", "forever", "--expires", "never")
	run("", exitError, "token", "create-api", "--name", "bad", "--expires", "-1d")
	var tokens struct {
		Tokens []struct{ ID, Name, State, ExpiresAt string }
	}
	if err := json.Unmarshal([]byte(run("", exitClean, "token", "list", "-o", "json")), &tokens); err != nil || len(tokens.Tokens) != 2 {
		t.Fatalf("token list: %+v %v", tokens, err)
	}
	ci := tokens.Tokens[0]
	if ci.Name != "ci" || ci.ExpiresAt == "never" || !strings.Contains(tok, ci.ID) || tokens.Tokens[1].ExpiresAt != "never" {
		t.Errorf("tokens: %+v (ci must expire by default, forever must not)", tokens.Tokens)
	}
	run("", exitClean, "token", "revoke", ci.ID)
	if out := run("", exitClean, "token", "list"); !strings.Contains(out, "revoked") {
		t.Errorf("token list after revoke:\n%s", out)
	}
	run("", exitError, "token", "revoke", "nosuch")
}
