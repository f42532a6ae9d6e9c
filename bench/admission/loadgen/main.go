// Command loadgen drives the admission benchmark (bench/admission/run.sh).
//
//	loadgen prepare -registry HOST -dir DIR
//	    pushes three signed images to a local registry and writes the
//	    policy, the serving certificate, its CA and a review to DIR;
//	loadgen run -url URL -ca FILE -body FILE -rate N -duration D
//	    sends the review at a fixed rate (open loop: a late answer never
//	    delays the next request) over loopback HTTPS and prints latency
//	    percentiles as JSON.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/bench/admission/setup"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen prepare|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "prepare":
		fs := flag.NewFlagSet("prepare", flag.ExitOnError)
		registry := fs.String("registry", "", "registry host:port (plain HTTP on loopback)")
		dir := fs.String("dir", "", "output directory")
		_ = fs.Parse(os.Args[2:])
		if *registry == "" || *dir == "" {
			err = errors.New("prepare: -registry and -dir are required")
			break
		}
		err = setup.Prepare(context.Background(), *registry, *dir)
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// begin is when the run started; request i is due at begin + i*interval.
var begin time.Time

func start(i int, interval time.Duration) time.Time { return begin.Add(time.Duration(i) * interval) }

type result struct {
	Rate     int     `json:"rate"`
	Duration string  `json:"duration"`
	Sent     int     `json:"sent"`
	Errors   int     `json:"errors"`
	Denied   int     `json:"denied"`
	Achieved float64 `json:"achievedRate"`
	P50ms    float64 `json:"p50ms"`
	P90ms    float64 `json:"p90ms"`
	P99ms    float64 `json:"p99ms"`
	MaxMs    float64 `json:"maxMs"`
	FirstErr string  `json:"firstError,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "endpoint, e.g. https://127.0.0.1:8443/validate")
	caFile := fs.String("ca", "", "CA of the server certificate")
	bodyFile := fs.String("body", "", "AdmissionReview to send")
	rate := fs.Int("rate", 200, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (at most 5m)")
	workers := fs.Int("connections", 32, "concurrent connections")
	_ = fs.Parse(args)
	if !strings.HasPrefix(*url, "https://127.0.0.1:") {
		return errors.New("run: -url must be https://127.0.0.1:PORT/... (loopback only)")
	}
	if *duration > 5*time.Minute || *rate <= 0 || *rate > 20000 {
		return errors.New("run: -duration at most 5m, -rate 1..20000")
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute,
	}}
	n := int(duration.Seconds() * float64(*rate))
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	res := result{Rate: *rate, Duration: duration.String(), Sent: n}
	interval := time.Second / time.Duration(*rate)
	// A bounded pool of connections, as the API server keeps; latency is
	// measured from when a request was due, so a server that falls behind
	// is charged for the queueing (no coordinated omission).
	due := make(chan int, n)
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range due {
				t0 := start(i, interval)
				resp, err := client.Post(*url, "application/json", bytes.NewReader(body))
				var out []byte
				if err == nil {
					out, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, out)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil || !bytes.Contains(out, []byte(`"allowed":true`)) {
					mu.Lock()
					if err != nil {
						res.Errors++
					} else {
						res.Denied++
					}
					if res.FirstErr == "" {
						res.FirstErr = fmt.Sprint(err, string(out))
					}
					mu.Unlock()
				}
			}
		}()
	}
	begin = time.Now()
	for i := range n {
		if d := time.Until(start(i, interval)); d > 0 {
			time.Sleep(d)
		}
		due <- i
	}
	close(due)
	wg.Wait()
	res.Achieved = float64(n) / time.Since(begin).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[min(n-1, int(p*float64(n)))].Microseconds()) / 1000 }
	res.P50ms, res.P90ms, res.P99ms, res.MaxMs = pct(.50), pct(.90), pct(.99), float64(lat[n-1].Microseconds())/1000
	return json.NewEncoder(os.Stdout).Encode(res)
}
