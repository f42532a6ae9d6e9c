package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// hubDataDirEnv names the hub's data directory when --data-dir is not
// given; hubDatabaseEnv the database URL when --database is not (the
// variable deploy/hub/hub.yaml sets in the hub's container, so commands
// run there with kubectl exec find the hub that serves).
const (
	hubDataDirEnv  = "PALISADE_HUB_DATA_DIR"
	hubDatabaseEnv = "PALISADE_HUB_DATABASE"
)

// hubState is where a hub command finds the hub's state: a database URL
// and, for the embedded SQLite database, its file and directory.
type hubState struct {
	database string // store URL
	file     string // SQLite file; empty for PostgreSQL
	dir      string // data directory (--data-dir or its default); empty when --database was given
	legacy   string // palisade-hub.db in the working directory, when it exists and no location was given
	// keyDir holds the private key files unless --ca-key-file and
	// --bundle-signing-key-file say otherwise: keys/ in the data
	// directory, which is resolved for it even when --database names the
	// database (errKeyDir when it cannot be).
	keyDir    string
	errKeyDir error
}

// keyFiles resolves the private key files: the flags, else keys/ca.key
// and keys/bundle-signing.key in the data directory.
func (l hubState) keyFiles(caKey, bundleKey string) (hub.KeyFiles, error) {
	if (caKey == "" || bundleKey == "") && l.keyDir == "" {
		return hub.KeyFiles{}, fmt.Errorf("hub key files: %w; pass --ca-key-file and --bundle-signing-key-file", l.errKeyDir)
	}
	kf := hub.KeyFiles{CAKey: caKey, BundleKey: bundleKey}
	if kf.CAKey == "" {
		kf.CAKey = filepath.Join(l.keyDir, "ca.key")
	}
	if kf.BundleKey == "" {
		kf.BundleKey = filepath.Join(l.keyDir, "bundle-signing.key")
	}
	return kf, nil
}

func (l hubState) String() string {
	if l.file == "" {
		return store.RedactURL(l.database)
	}
	if l.dir != "" {
		return l.dir + " (database " + l.file + ")"
	}
	return l.file
}

// defaultHubDataDir is the hub's data directory when neither --data-dir
// nor the environment names one: /var/lib/palisade/hub for root (a system
// service), else the user's XDG state directory, so every command of one
// user finds the same hub whatever its working directory.
func defaultHubDataDir(getenv func(string) string, euid int) (string, error) {
	if euid == 0 {
		return "/var/lib/palisade/hub", nil
	}
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "palisade", "hub"), nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("hub data directory: neither $XDG_STATE_HOME nor $HOME is an absolute path; pass --data-dir or set $%s", hubDataDirEnv)
	}
	return filepath.Join(home, ".local", "state", "palisade", "hub"), nil
}

// locateHubState resolves --database and --data-dir: an explicit database
// URL (--database, as deploy/hub passes it, or $PALISADE_HUB_DATABASE when
// no --data-dir is given) wins, else hub.db in the data directory from
// --data-dir, $PALISADE_HUB_DATA_DIR or the default.
func locateHubState(database, dataDir string, getenv func(string) string, euid int) (hubState, error) {
	if database == "" && dataDir == "" {
		database = getenv(hubDatabaseEnv)
	}
	explicit := dataDir != "" || getenv(hubDataDirEnv) != ""
	if dataDir == "" {
		dataDir = getenv(hubDataDirEnv)
	}
	var dir string
	var dirErr error
	if dataDir == "" {
		dataDir, dirErr = defaultHubDataDir(getenv, euid)
	}
	if dirErr == nil {
		if dir, dirErr = filepath.Abs(dataDir); dirErr != nil {
			dirErr = fmt.Errorf("hub data directory %s: %w", dataDir, dirErr)
		}
	}
	if database != "" {
		l := hubState{database: database, errKeyDir: dirErr}
		if dirErr == nil {
			l.keyDir = filepath.Join(dir, "keys")
		}
		if f, ok := strings.CutPrefix(database, "sqlite://"); ok {
			l.file = f
			if !explicit {
				// The keys of a hub named by its SQLite file sit beside it.
				l.keyDir, l.errKeyDir = filepath.Join(filepath.Dir(f), "keys"), nil
			}
		} else if !explicit {
			// PostgreSQL: replicas share the database but not a default
			// directory (in a container, often not even a persistent
			// one); keys made or moved there would be lost or differ.
			l.keyDir, l.errKeyDir = "", errors.New("with a PostgreSQL database the key files every replica shares must be named")
		}
		return l, nil
	}
	if dirErr != nil {
		return hubState{}, dirErr
	}
	file := filepath.Join(dir, "hub.db")
	l := hubState{database: "sqlite://" + file, file: file, dir: dir, keyDir: filepath.Join(dir, "keys")}
	if !explicit {
		if _, err := os.Stat(legacyHubDatabase); err == nil {
			l.legacy, _ = filepath.Abs(legacyHubDatabase)
		}
	}
	return l, nil
}

// prepare makes sure opening the state will not silently create a second
// hub. A SQLite database that does not exist yet is created (with its
// directory, 0700) only when create is set (hub serve, or --init);
// otherwise the command fails naming where it looked. A database left in
// the working directory by an older hub is never passed over silently.
func (l hubState) prepare(create bool) error {
	if l.file == "" {
		return nil // PostgreSQL: the server holds the state
	}
	_, err := os.Stat(l.file)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hub database %s: %w", l.file, err)
	}
	if l.legacy != "" {
		return fmt.Errorf("no hub at %s, but %s exists (where hubs before the data directory kept it): "+
			"pass --database sqlite://%s, or move it to %s", l, l.legacy, l.legacy, l.file)
	}
	if !create {
		return fmt.Errorf("no hub at %s: this command would create a new, empty hub with its own CA. "+
			"Point it at the hub 'palisade hub serve' uses (--data-dir, $%s or --database), or pass --init to create one here", l, hubDataDirEnv)
	}
	if l.dir != "" {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return fmt.Errorf("hub data directory %s: %w", l.dir, err)
		}
	}
	return nil
}
