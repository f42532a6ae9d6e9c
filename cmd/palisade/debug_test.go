package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// The profiles are unauthenticated: only a loopback address is accepted.
func TestServeDebugLoopbackOnly(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"[::1]:0", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"localhost:6060", false}, // a name could resolve elsewhere
		{"10.0.0.1:6060", false},
		{"127.0.0.1", false},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			_, stop, err := serveDebug(context.Background(), tt.addr, log)
			if (err == nil) != tt.ok {
				t.Fatalf("serveDebug(%q): %v, want ok %v", tt.addr, err, tt.ok)
			}
			if stop != nil {
				stop()
			}
		})
	}
}

func TestServeDebugServesProfiles(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := serveDebug(context.Background(), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile:") {
		t.Fatalf("%d %.200s", resp.StatusCode, b)
	}
}
