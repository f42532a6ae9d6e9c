// Package pgtest runs a real PostgreSQL server for tests, from Debian's
// packages (hack/postgres/install.sh installs them). The server lives in a
// temporary directory on a free loopback port, runs as the unprivileged
// "postgres" user when the test runs as root (initdb refuses root), and
// dies with the test binary.
//
// When PostgreSQL is not installed, tests are skipped with a message saying
// how to install it, unless PALISADE_REQUIRE_POSTGRES=1 (CI), where they
// fail: a missing install must never turn a run green by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

// Server is a running PostgreSQL instance.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	// durable: PostgreSQL's default fsync, synchronous_commit and
	// full_page_writes (Options.Durable).
	durable bool
	// bin, data and cred start it again (Restart).
	bin, data string
	cred      *syscall.Credential
}

// shared is started once per test binary; starting costs seconds.
var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// BinDir finds the newest /usr/lib/postgresql/<ver>/bin with initdb.
func BinDir() (string, error) {
	if d := os.Getenv("PALISADE_PG_BIN_DIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `sudo bash hack/postgres/install.sh`")
	}
	sort.Slice(dirs, func(i, j int) bool { return verOf(dirs[i]) > verOf(dirs[j]) })
	return filepath.Dir(dirs[0]), nil
}

func verOf(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// Shared returns the test binary's PostgreSQL server, starting it on first
// use; it skips (or fails under PALISADE_REQUIRE_POSTGRES=1) when
// PostgreSQL is missing. Call Stop from TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("PALISADE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("pgtest: %v (PALISADE_REQUIRE_POSTGRES=1)", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = Start(context.Background(), bin)
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// Stop stops the shared server, if any.
func Stop() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
}

// Options choose how a server started by StartWith runs.
type Options struct {
	// Durable keeps PostgreSQL's default durability (fsync,
	// synchronous_commit and full_page_writes on: a commit returns after
	// its WAL is flushed to disk), as a production hub runs it. Off (the
	// tests' default), the three are off: tests check behaviour, not
	// durability, and each commit's flush would only slow them down.
	// Benchmarks use Durable, or their figures would be of a database that
	// loses committed reports on a crash.
	Durable bool
}

// Start initialises a cluster in a temporary directory and starts it,
// without durability (see Options.Durable).
func Start(ctx context.Context, bin string) (*Server, error) {
	return StartWith(ctx, bin, Options{})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, bin string, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "palisade-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, done: make(chan struct{}), durable: opts.Durable, bin: bin}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	s.data, s.cred = data, cred
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.port = port
		if err = s.launch(bin, data, cred); err == nil {
			return s, nil
		}
		if attempt == 3 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (s *Server) launch(bin, data string, cred *syscall.Credential) error {
	logf, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	args := []string{"-D", data, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + s.dir,
		"-c", "max_connections=300", "-c", "shared_buffers=64MB"}
	if !s.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("postgres: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(3 * time.Minute) // a failure bound only: a loaded machine (load 30) starts slowly
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited: %s", tail(filepath.Join(s.dir, "postgres.log")))
		default:
		}
		db, err := sql.Open("pgx", s.dsn("postgres"))
		if err == nil {
			err = db.Ping()
			db.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("postgres not ready after 3m: %s", tail(filepath.Join(s.dir, "postgres.log")))
}

// credential returns the user to run PostgreSQL as: the current one, or
// "postgres" when running as root, which then owns dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user (created by Debian's package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// DSN is the URL of database db on the server.
func (s *Server) DSN(db string) string { return s.dsn(db) }

// CreateDatabase creates an empty database called name (letters, digits
// and underscores) and returns its URL; for programs, where NewDatabase is
// for tests.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", fmt.Errorf("database name %q: want lower-case letters, digits and _", name)
		}
	}
	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.dsn(name), nil
}

// PID is the postmaster's process ID (its backends are its children).
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// NewDatabase creates an empty database for one test and returns its URL;
// it is dropped at cleanup.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", s.dsn("postgres"))
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return s.dsn(name)
}

// Restart takes the server down as a crash would (immediate shutdown:
// SIGQUIT, no checkpoint, clients cut off; the next start recovers from
// the WAL), keeps it down for down, and starts it again on the same port
// with the same data. Not for the Shared server: other tests use it.
func (s *Server) Restart(down time.Duration) error {
	s.Crash()
	time.Sleep(down)
	return s.Relaunch()
}

// Crash takes the server down as Restart does and leaves it down until
// Relaunch, so a test can act while the database is unreachable.
func (s *Server) Crash() { s.shutdown(syscall.SIGQUIT) }

// Relaunch starts a server Crash took down, on the same port with the same
// data.
func (s *Server) Relaunch() error { return s.launch(s.bin, s.data, s.cred) }

// Stop stops the server (fast shutdown) and removes its directory.
func (s *Server) Stop() {
	s.shutdown(syscall.SIGINT)
	os.RemoveAll(s.dir)
}

// shutdown signals the postmaster (SIGINT fast, SIGQUIT immediate) and
// waits for it, killing its process group after 10 s.
func (s *Server) shutdown(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
