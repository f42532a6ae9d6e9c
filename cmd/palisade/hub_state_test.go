package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultHubDataDir(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		euid    int
		want    string
		wantErr bool
	}{
		{"root", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/root"}, 0, "/var/lib/palisade/hub", false},
		{"XDG state", map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/a"}, 1000, "/x/state/palisade/hub", false},
		{"relative XDG ignored", map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/a"}, 1000, "/home/a/.local/state/palisade/hub", false},
		{"home", map[string]string{"HOME": "/home/a"}, 1000, "/home/a/.local/state/palisade/hub", false},
		{"nothing", nil, 1000, "", true},
	}
	for _, tt := range tests {
		got, err := defaultHubDataDir(func(k string) string { return tt.env[k] }, tt.euid)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: %q, %v; want %q (error %v)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestHubStateFirstDay: `hub serve` and the commands an operator runs
// next find the same hub whatever the working directory, and a command
// that would create a second hub refuses, naming where it looked
// (issue #16, an operator's first day).
func TestHubStateFirstDay(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv(hubDataDirEnv, "")
	t.Setenv(hubDatabaseEnv, "")
	t.Chdir(t.TempDir()) // no legacy palisade-hub.db here
	if os.Geteuid() == 0 {
		t.Setenv(hubDataDirEnv, filepath.Join(home, "state", "palisade", "hub")) // root's default is /var/lib
	}
	dir := filepath.Join(home, "state", "palisade", "hub")

	// No hub yet: user create refuses rather than make one.
	_, errOut, code := palisade(t, "alice-password-1\n", "hub", "user", "create", "--name", "alice", "--role", "admin")
	if code != exitError || !strings.Contains(errOut, "no hub at "+dir) || !strings.Contains(errOut, "--init") {
		t.Fatalf("user create without a hub: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "hub.db")); err == nil {
		t.Fatal("the refused command created a hub anyway")
	}
	// --init creates it, private, in the data directory.
	if _, errOut, code := palisade(t, "alice-password-1\n", "hub", "user", "create", "--name", "alice", "--role", "admin", "--init"); code != exitClean {
		t.Fatalf("user create --init: exit %d\n%s", code, errOut)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v %v", fi, err)
	}
	// From another directory, the same hub: the user exists already.
	t.Chdir(t.TempDir())
	if _, errOut, code := palisade(t, "alice-password-1\n", "hub", "user", "create", "--name", "alice", "--role", "admin"); code != exitError || !strings.Contains(errOut, "exists") {
		t.Fatalf("second user create elsewhere: exit %d\n%s", code, errOut)
	}
	// hub serve says where its state is (the listen address is refused
	// after the state is opened, so the command ends).
	if _, errOut, code := palisade(t, "", "hub", "serve", "--listen", "127.0.0.1:99999"); code != exitError || !strings.Contains(errOut, "palisade hub: state in "+dir+" (database "+filepath.Join(dir, "hub.db")+")") {
		t.Fatalf("hub serve: exit %d\n%s", code, errOut)
	}
	// --data-dir and the environment name other hubs.
	other := filepath.Join(home, "other")
	if _, errOut, code := palisade(t, "", "hub", "token", "create", "--cluster", "edge-1", "--data-dir", other); code != exitError || !strings.Contains(errOut, "no hub at "+other) {
		t.Fatalf("--data-dir without a hub: exit %d\n%s", code, errOut)
	}
	t.Setenv(hubDataDirEnv, dir)
	if out, errOut, code := palisade(t, "", "hub", "token", "create", "--cluster", "edge-1"); code != exitClean || !strings.Contains(out, "token:") {
		t.Fatalf("token create with $%s: exit %d\n%s%s", hubDataDirEnv, code, out, errOut)
	}
}

// A database left in the working directory by an older hub (the old
// default) is never passed over for a new, empty one.
func TestHubStateLegacyDatabase(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv(hubDataDirEnv, "")
	t.Setenv(hubDatabaseEnv, "")
	wd := t.TempDir()
	t.Chdir(wd)
	if err := os.WriteFile(legacyHubDatabase, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := locateHubState("", "", os.Getenv, 1000)
	if err != nil {
		t.Fatal(err)
	}
	err = l.prepare(true)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(wd, legacyHubDatabase)) || !strings.Contains(err.Error(), "--database") {
		t.Fatalf("legacy database: %v", err)
	}
	// An explicit location is the operator's choice.
	if l, _ := locateHubState("", filepath.Join(home, "d"), os.Getenv, 1000); l.legacy != "" {
		t.Errorf("explicit --data-dir still reports the legacy database")
	}
	if l, _ := locateHubState("sqlite://"+filepath.Join(home, "x.db"), "", os.Getenv, 1000); l.file != filepath.Join(home, "x.db") || l.dir != "" {
		t.Errorf("explicit --database: %+v", l)
	}
	// $PALISADE_HUB_DATABASE (set in deploy/hub's container) names the
	// database when no flag does; --data-dir overrides it.
	t.Setenv(hubDatabaseEnv, "sqlite:///var/lib/palisade-hub/hub.db")
	if l, _ := locateHubState("", "", os.Getenv, 1000); l.file != "/var/lib/palisade-hub/hub.db" || l.legacy != "" {
		t.Errorf("$%s: %+v", hubDatabaseEnv, l)
	}
	if l, _ := locateHubState("", filepath.Join(home, "d"), os.Getenv, 1000); l.file != filepath.Join(home, "d", "hub.db") {
		t.Errorf("--data-dir with $%s: %+v", hubDatabaseEnv, l)
	}
}
