package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// shared is the one piece of package state: the lazily started instance
// shared by all tests of a test binary, and whether Main is in charge of
// stopping it. Starting an apiserver costs seconds, so a test binary pays it
// once; tests that need special flags use Start instead.
var shared struct {
	mu      sync.Mutex
	managed bool // Main is running m.Run and will stop the instance
	started bool // a start was attempted; env/err hold its outcome
	env     *Env
	err     error
}

// Main runs the tests and then stops the shared instance; use it as
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// in every package that calls Shared. On SIGINT/SIGTERM it stops the shared
// instance before exiting, so an interrupted run leaves nothing behind (child
// processes would die anyway with the binary; this also removes the data
// directory).
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.managed = true
	shared.mu.Unlock()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		stopShared()
		fmt.Fprintf(os.Stderr, "testenv: %v: stopped the shared control plane\n", sig)
		os.Exit(130)
	}()

	code := m.Run()
	signal.Stop(sigs)
	close(sigs)
	stopShared()
	os.Exit(code)
}

func stopShared() {
	shared.mu.Lock()
	env := shared.env
	shared.mu.Unlock()
	if env != nil {
		env.Stop()
	}
}

// Shared returns the test binary's shared instance, starting it on first use.
// It skips or fails like [Require] when the binaries are missing, and fails
// when the package has no TestMain calling [Main] (nothing would stop it).
// Tests sharing it must isolate themselves by namespace
// ([Env.CreateNamespace]) and must not restart or stop it.
func Shared(t testing.TB) *Env {
	t.Helper()
	Require(t)
	env, err := sharedEnv()
	if err != nil {
		t.Fatalf("testenv: shared control plane: %v", err)
	}
	return env
}

func sharedEnv() (*Env, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.managed {
		return nil, errors.New("testenv.Shared needs a TestMain that calls testenv.Main(m), which stops the instance after the tests")
	}
	if !shared.started {
		// Remember a failure too: every later test then fails fast with the
		// same cause instead of waiting for its own startup timeout.
		shared.started = true
		var opts Options
		ctx, cancel := context.WithTimeout(context.Background(), 2*opts.startTimeout())
		shared.env, shared.err = Launch(ctx, opts)
		cancel()
	}
	if shared.err != nil {
		return nil, shared.err
	}
	shared.env.mu.Lock()
	p := shared.env.apiserver
	shared.env.mu.Unlock()
	if p.exited() {
		return nil, fmt.Errorf("kube-apiserver has exited (%v); log tail:\n%s", p.waitErr, p.logTail(40))
	}
	return shared.env, nil
}
