package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves Go's profiles (/debug/pprof/) on addr until stop is
// called or ctx ends, for looking into a running hub under load (a stall,
// its heap) without stopping it. The endpoint has no authentication, so
// it only listens on a loopback address. It uses its own mux: importing
// net/http/pprof registers on http.DefaultServeMux, which nothing else in
// the binary serves.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) (bound net.Addr, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, nil, fmt.Errorf("%q: want a loopback IP address (the profiles are unauthenticated)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WarnContext(ctx, "debug listener", slog.String("error", err.Error()))
		}
	}()
	log.InfoContext(ctx, "debug profiles served", slog.String("address", ln.Addr().String()))
	return ln.Addr(), func() { _ = srv.Close() }, nil
}
