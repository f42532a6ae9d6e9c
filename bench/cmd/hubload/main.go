// Command hubload is the fleet hub's load generator. It runs in its own
// process against `palisade hub serve` processes it starts (one, or
// several replicas on one PostgreSQL behind a TCP load balancer it also
// starts), enrols N agent identities the way an operator does (bootstrap
// tokens from `palisade hub token create`, then the enrolment API), and
// sends reports over mutual TLS with gzip bodies, open loop: each report
// has a scheduled time and its latency is counted from it, so a stalled hub
// shows as latency instead of slowing the load down. Report shapes follow
// what the real agent sends (bench/hub TestAgentReportShapes).
//
// Modes:
//
//	step   reports at fixed rates, stepping up until p99 crosses --p99-goal
//	fleet  every cluster reports every --interval and heartbeats every
//	       --heartbeat for --duration, while a dashboard session reads pages
//
// At the end every cluster's findings and last sequence number are read
// from the database and compared with what was sent: a report lost or
// counted twice, or any error, makes the exit status 1. Figures and the
// exact commands are in bench/hub/README.md.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

type options struct {
	bin, backend, mode, workDir, tokens string
	replicas, clusters, pods, cliJobs   int
	rates                               []float64
	step, duration, interval, hb        time.Duration
	seedRate, snapshotShare, imageShr   float64
	p99Goal                             time.Duration
	pgDurable                           bool
	hubArgs, hubEnv                     []string
	drain                               time.Duration
	logRetries, tlsResume               bool
	snapshotPool                        int
}

func main() {
	var o options
	var rates, hubArgs, hubEnv string
	flag.StringVar(&o.bin, "palisade", "", "the palisade binary to run as the hub (required; `go build -o /tmp/palisade ./cmd/palisade`)")
	flag.StringVar(&o.backend, "backend", "sqlite", "sqlite or postgres (a PostgreSQL server from Debian's packages, started in --work-dir)")
	flag.StringVar(&o.mode, "mode", "step", "step (rates until p99 crosses --p99-goal) or fleet (every cluster every --interval for --duration)")
	flag.StringVar(&o.workDir, "work-dir", "", "directory for the hub's state and logs (default: a temporary one, removed)")
	flag.IntVar(&o.replicas, "replicas", 1, "hub replicas (postgres only for more than one), behind a TCP load balancer")
	flag.IntVar(&o.clusters, "clusters", 100, "enrolled agents (one cluster each)")
	flag.IntVar(&o.pods, "pods", 500, "pods per cluster (14.3 findings each, as measured)")
	flag.StringVar(&o.tokens, "tokens", "cli", "where bootstrap tokens come from: cli (`palisade hub token create`, one process each) or api (the admin API, with a token from `hub token create-api`)")
	flag.IntVar(&o.cliJobs, "cli-jobs", 2, "`palisade hub token create` processes at once while enrolling")
	flag.StringVar(&rates, "rates", "100,200,400,700,1000,1500,2000,3000", "step mode: reports/s, in order")
	flag.DurationVar(&o.step, "step", 20*time.Second, "step mode: how long each rate is held")
	flag.Float64Var(&o.seedRate, "seed-rate", 50, "first snapshots (every cluster's, all findings new) per second, open loop")
	flag.Float64Var(&o.snapshotShare, "snapshot-share", 0, "share of reports that are full snapshots (1: snapshots only)")
	flag.IntVar(&o.snapshotPool, "snapshot-pool", 8, "with --snapshot-share 1: full snapshots each cluster builds and compresses before the run and sends in turn (0: built when sent, costing the client as much CPU as the hub)")
	flag.Float64Var(&o.imageShr, "images-share", 0.1, "share of reports that are image sets (the rest are findings deltas)")
	flag.DurationVar(&o.p99Goal, "p99-goal", 50*time.Millisecond, "step mode stops after the first rate whose p99 is above this")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "fleet mode: how long the fleet reports")
	flag.DurationVar(&o.interval, "interval", time.Minute, "fleet mode: each cluster's report interval")
	flag.DurationVar(&o.drain, "drain", 5*time.Minute, "how long the queued reports may take to be applied after the load ends, before the verification (what is still queued then shows as mismatches)")
	flag.DurationVar(&o.hb, "heartbeat", 15*time.Second, "fleet mode: each cluster's heartbeat interval")
	flag.BoolVar(&o.pgDurable, "pg-durable", true, "PostgreSQL with its default durability (fsync, synchronous_commit, full_page_writes on); false only to compare")
	flag.BoolVar(&o.tlsResume, "tls-resume", true, "simulated agents resume TLS sessions on reconnect, as the agent does; false to measure full handshakes")
	flag.BoolVar(&o.logRetries, "log-retries", false, "log every resend of a report batch: when, why (status or transport error) and the delay before it")
	flag.StringVar(&hubArgs, "hub-args", "", "extra flags for `palisade hub serve`, space-separated")
	flag.StringVar(&hubEnv, "hub-env", "", "extra environment of the hub processes only, space-separated NAME=value (e.g. GOMEMLIMIT=400MiB, as an operator sets from the container's memory limit)")
	flag.Parse()
	if o.bin == "" {
		fmt.Fprintln(os.Stderr, "hubload: --palisade is required")
		os.Exit(2)
	}
	for _, r := range strings.Split(rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "hubload: --rates: %q is not a positive number\n", r)
			os.Exit(2)
		}
		o.rates = append(o.rates, v)
	}
	o.hubArgs = strings.Fields(hubArgs)
	o.hubEnv = strings.Fields(hubEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubload:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(ctx context.Context, o options) (bool, error) {
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "hubload-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(d)
		o.workDir = d
	}
	if err := os.MkdirAll(o.workDir, 0o700); err != nil {
		return false, err
	}
	var database string
	var pg *pgtest.Server
	switch o.backend {
	case "sqlite":
		if o.replicas > 1 {
			return false, errors.New("--replicas above 1 needs --backend postgres (SQLite is one process's)")
		}
		database = "sqlite://" + filepath.Join(o.workDir, "hub.db")
	case "postgres":
		bin, err := pgtest.BinDir()
		if err != nil {
			return false, err
		}
		pg, err = pgtest.StartWith(ctx, bin, pgtest.Options{Durable: o.pgDurable})
		if err != nil {
			return false, err
		}
		defer pg.Stop()
		database, err = pg.CreateDatabase(ctx, "hubload")
		if err != nil {
			return false, err
		}
		logf("PostgreSQL on port %d, durable=%v (fsync, synchronous_commit, full_page_writes %s)", pg.Port(), o.pgDurable, map[bool]string{true: "on: PostgreSQL's defaults", false: "off: NOT DURABLE"}[o.pgDurable])
	default:
		return false, fmt.Errorf("--backend %q: want sqlite or postgres", o.backend)
	}
	hubs, err := startHubs(ctx, o.bin, o.workDir, database, o.replicas, o.hubArgs, o.hubEnv)
	defer hubs.stop()
	if err != nil {
		return false, err
	}
	logf("%d hub replica(s) of %s on %s (%s), agents at %s", o.replicas, o.bin, o.backend, o.workDir, hubs.url)

	t0 := time.Now()
	var api *adminTokens
	how := "bootstrap tokens from `palisade hub token create`"
	if o.tokens == "api" {
		if api, err = hubs.newAdminTokens(ctx); err != nil {
			return false, err
		}
		how = "bootstrap tokens from POST /api/v1/clusters with an admin API token from `palisade hub token create-api`"
	} else if o.tokens != "cli" {
		return false, fmt.Errorf("--tokens %q: want cli or api", o.tokens)
	}
	ids, err := hubs.enrolFleet(ctx, o.clusters, o.cliJobs, api, func(n int) { logf("enrolled %d", n) })
	if err != nil {
		return false, err
	}
	logf("enrolled %d agents (%s, then the enrolment API) in %v", len(ids), how, time.Since(t0).Round(time.Millisecond))

	st := &stats{}
	sims := make([]*sim, len(ids))
	for i, id := range ids {
		sims[i] = newSim(id, hubs.url, o.pods, st, uint64(i), o.tlsResume)
		sims[i].logRetries = o.logRetries
	}
	if o.snapshotShare >= 1 && o.snapshotPool > 0 {
		buildSnapshotPools(sims, o.snapshotPool)
	}
	// The sims stop when the drain is over or on an interrupt: the request
	// in flight is finished, nothing is sent again (what is still queued
	// shows in the verification as not applied).
	runCtx, stopSims := context.WithCancel(ctx)
	defer stopSims()
	var wg sync.WaitGroup
	for _, s := range sims {
		wg.Add(1)
		go s.run(runCtx, &wg)
	}
	rss := newRSSSampler(hubs)
	defer rss.stop()
	meter := &cpuMeter{hubs: hubs}
	if pg != nil {
		meter.pgPID = pg.PID()
	}
	cores := runtime.NumCPU()

	// Seed: every cluster's first full snapshot, all findings new.
	meter.reset()
	seedStart := time.Now()
	schedule(ctx, sims, o.seedRate, time.Duration(float64(len(sims))/o.seedRate*float64(time.Second)), seedStart, 0, func(int) jobKind { return jobSnapshot })
	waitIdle(ctx, sims, 30*time.Minute)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	lat := st.window(seedStart, time.Now(), nil)
	seedDur := time.Since(seedStart)
	logf("seed: %d first snapshots (%d pods, %d findings each) scheduled at %.0f/s: done in %v = %.1f/s; p50 %v p99 %v max %v; load %s; hub RSS %s",
		len(sims), o.pods, sims[0].model.findings(), o.seedRate, seedDur.Round(time.Millisecond), float64(len(sims))/seedDur.Seconds(),
		pct(lat, .5), pct(lat, .99), pct(lat, 1), loadAvg(), rss.describe())
	logf("seed: %s", meter.per(len(sims), cores))

	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(int) jobKind {
		r := rng.Float64()
		switch {
		case r < o.snapshotShare:
			return jobSnapshot
		case r < o.snapshotShare+o.imageShr:
			return jobImages
		}
		return jobDelta
	}
	switch o.mode {
	case "step":
		var wm *writerMeter
		if api != nil {
			wm = &writerMeter{api: api}
		}
		stepRates(ctx, o, sims, st, rss, meter, wm, cores, pick)
	case "fleet":
		if err := fleetRun(ctx, o, hubs, sims, st, rss, meter, cores, pick); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("--mode %q: want step or fleet", o.mode)
	}
	if !waitIdle(ctx, sims, o.drain) {
		logf("reports still queued after %v", o.drain)
	}
	stopSims()
	wg.Wait()
	return verify(ctx, o, database, sims, st)
}

// buildSnapshotPools builds each sim's snapshots in advance, on every
// core (a sim's model and rng are its own), before the load starts.
func buildSnapshotPools(sims []*sim, n int) {
	t0 := time.Now()
	next := make(chan *sim)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for s := range next {
				s.model.newSnapshotPool(s.rng, n, snapshotChangedPods)
			}
		})
	}
	for _, s := range sims {
		next <- s
	}
	close(next)
	wg.Wait()
	size := 0
	for _, s := range sims {
		size += s.model.pool.bytes()
	}
	logf("snapshot pool: %d snapshots per cluster built in advance in %v (%.1f MB of gzip), each %d pods away from the one before",
		n, time.Since(t0).Round(time.Millisecond), float64(size)/1e6, snapshotChangedPods)
}

// waitIdle waits until no sim has a report queued or in flight.
func waitIdle(ctx context.Context, sims []*sim, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		busy := false
		for _, s := range sims {
			if s.pending.Load() > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func stepRates(ctx context.Context, o options, sims []*sim, st *stats, rss *rssSampler, meter *cpuMeter, wm *writerMeter, cores int, pick func(int) jobKind) {
	offset := 0
	for _, rate := range o.rates {
		if ctx.Err() != nil {
			return
		}
		rss.reset()
		meter.reset()
		wm.reset(ctx)
		before := st.applied.Load()
		start := time.Now()
		n := schedule(ctx, sims, rate, o.step, start, offset, pick)
		offset += n
		end := time.Now()
		drained := waitIdle(ctx, sims, 2*time.Minute)
		lat := st.window(start, end, nil)
		snap := st.window(start, end, func(k jobKind) bool { return k == jobSnapshot })
		others := st.window(start, end, func(k jobKind) bool { return k != jobSnapshot })
		applied := st.applied.Load() - before
		last := time.Now()
		logf("rate %.0f/s for %v: %d reports (%d applied) done in %v = %.0f/s; p50 %v p99 %v max %v%s; 429s %d, errors %d; load %s; hub RSS %s",
			rate, o.step, n, applied, last.Sub(start).Round(time.Millisecond), float64(n)/last.Sub(start).Seconds(),
			pct(lat, .5).Round(10*time.Microsecond), pct(lat, .99).Round(10*time.Microsecond), pct(lat, 1).Round(time.Millisecond),
			snapshotNote(snap, others), st.throttled.Load(), st.nErrs, loadAvg(), rss.describe())
		logf("rate %.0f/s: %s", rate, meter.per(n, cores))
		if w := wm.per(ctx, applied); w != "" {
			logf("rate %.0f/s: %s", rate, w)
		}
		if !drained {
			logf("rate %.0f/s: the hub did not catch up within 2 minutes: saturated", rate)
			return
		}
		if pct(lat, .99) > o.p99Goal {
			logf("rate %.0f/s: p99 above %v: stopping", rate, o.p99Goal)
			return
		}
	}
}

// snapshotNote gives the snapshots' p99 apart, and when other reports
// were mixed in (deltas, image sets), theirs: whether snapshots delay
// the deltas.
func snapshotNote(snap, others []time.Duration) string {
	if len(snap) == 0 {
		return ""
	}
	note := fmt.Sprintf(" (snapshots: %d, p99 %v", len(snap), pct(snap, .99).Round(10*time.Microsecond))
	if len(others) > 0 {
		note += fmt.Sprintf("; other reports: %d, p99 %v", len(others), pct(others, .99).Round(10*time.Microsecond))
	}
	return note + ")"
}

// fleetRun: every cluster reports every interval and heartbeats every
// hb, each at its own phase, for duration; a dashboard session reads the
// overview, compliance, fleet findings and a cluster's page in turn.
func fleetRun(ctx context.Context, o options, hubs *fleetHubs, sims []*sim, st *stats, rss *rssSampler, meter *cpuMeter, cores int, pick func(int) jobKind) error {
	dash, err := newDashboard(ctx, hubs)
	if err != nil {
		return err
	}
	rss.reset()
	meter.reset()
	start := time.Now()
	end := start.Add(o.duration)
	fctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		schedule(fctx, sims, float64(len(sims))/o.interval.Seconds(), o.duration, start, 0, pick)
	}()
	go func() {
		defer wg.Done()
		per := o.hb / time.Duration(len(sims))
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * per)
			if !at.Before(end) {
				return
			}
			select {
			case <-time.After(time.Until(at)):
			case <-fctx.Done():
				return
			}
			go sims[i%len(sims)].heartbeat(fctx)
		}
	}()
	go func() {
		defer wg.Done()
		dash.read(fctx, sims)
	}()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			// Counted by when they completed: reports scheduled in the last
			// minute may all still be queued behind older ones while the hub
			// applies those (counting by schedule showed 0 and looked like a
			// stall).
			lat := st.completed(time.Now().Add(-time.Minute), time.Now())
			logf("fleet: last minute %d reports completed, p99 %v behind schedule; dashboard p99 %v; load %s; hub RSS %s", len(lat), pct(lat, .99), pct(dash.latencies(), .99), loadAvg(), rss.describe())
			continue
		case <-fctx.Done():
		}
		break
	}
	wg.Wait()
	drained := time.Now()
	if waitIdle(ctx, sims, o.drain) {
		logf("fleet: the backlog at the end was applied %v after it", time.Since(drained).Round(time.Second))
	}
	lat := st.window(start, end, nil)
	st.mu.Lock()
	hb := append([]time.Duration(nil), st.hbLat...)
	st.mu.Unlock()
	d := dash.latencies()
	logf("fleet: %d clusters for %v: %d reports (%.0f/s) p50 %v p99 %v max %v; %d heartbeats p99 %v (%d answered 429); dashboard %d pages p50 %v p99 %v max %v; load %s; hub RSS %s",
		len(sims), o.duration, len(lat), float64(len(lat))/o.duration.Seconds(), pct(lat, .5), pct(lat, .99), pct(lat, 1),
		len(hb), pct(hb, .99), st.hbThrottled.Load(), len(d), pct(d, .5), pct(d, .99), pct(d, 1), loadAvg(), rss.describe())
	logf("fleet: %s (heartbeats and page reads included)", meter.per(len(lat), cores))
	if dash.err != nil {
		// Counted as an error (the run fails), but the reports are still
		// verified: a slow dashboard does not say whether any was lost.
		st.errorf("%d dashboard reads failed, the first: %v", dash.fail, dash.err)
	}
	return nil
}

// dashboard is a signed-in viewer reading pages while the fleet reports.
type dashboard struct {
	c    *http.Client
	url  string
	mu   sync.Mutex
	lat  []time.Duration
	err  error
	fail int
}

var loginToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// newDashboard creates a viewer with the CLI and signs in through the
// login form, as a person does.
func newDashboard(ctx context.Context, hubs *fleetHubs) (*dashboard, error) {
	const user, password = "hubload-viewer", "hubload-viewer-password-1"
	if _, err := hubs.cli(ctx, []byte(password+"\n"), "user", "create", "--name", user, "--role", "viewer"); err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	d := &dashboard{url: hubs.url, c: &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: pinnedTLS(hubs.caPin)}}}
	resp, err := d.c.Get(d.url + "/login")
	if err != nil {
		return nil, err
	}
	page := readAll(resp)
	m := loginToken.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("login page without its form token")
	}
	req, _ := http.NewRequest(http.MethodPost, d.url+"/login", strings.NewReader(url.Values{"token": {m[1]}, "username": {user}, "password": {password}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", d.url)
	resp, err = d.c.Do(req)
	if err != nil {
		return nil, err
	}
	body := readAll(resp)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `name="password"`) {
		return nil, fmt.Errorf("sign-in: %d", resp.StatusCode)
	}
	return d, nil
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func (d *dashboard) read(ctx context.Context, sims []*sim) {
	for i := 0; ctx.Err() == nil; i++ {
		var path string
		switch i % 4 {
		case 0:
			path = "/"
		case 1:
			path = "/compliance"
		case 2:
			path = "/findings?severity=HIGH"
		default:
			path = "/clusters/" + sims[i%len(sims)].id.clusterID
		}
		t0 := time.Now()
		resp, err := d.c.Get(d.url + path)
		if err == nil {
			readAll(resp)
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path == "/login" {
				err = fmt.Errorf("%s: %d %s", path, resp.StatusCode, resp.Request.URL.Path)
			}
		}
		d.mu.Lock()
		if err != nil {
			d.fail++
			if d.err == nil && ctx.Err() == nil {
				d.err = fmt.Errorf("dashboard: %w", err)
			}
		} else {
			d.lat = append(d.lat, time.Since(t0))
		}
		d.mu.Unlock()
		sleep(ctx, 500*time.Millisecond)
	}
}

func (d *dashboard) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.lat...)
}

// rssSampler polls the replicas' VmRSS every second.
type rssSampler struct {
	hubs *fleetHubs
	mu   sync.Mutex
	peak []int
	stp  chan struct{}
	done chan struct{}
}

func newRSSSampler(h *fleetHubs) *rssSampler {
	r := &rssSampler{hubs: h, stp: make(chan struct{}), done: make(chan struct{})}
	r.reset()
	go func() {
		defer close(r.done)
		for {
			r.sample()
			select {
			case <-r.stp:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return r
}

func (r *rssSampler) sample() {
	cur := r.hubs.rss()
	r.mu.Lock()
	for i, v := range cur {
		r.peak[i] = max(r.peak[i], v)
	}
	r.mu.Unlock()
}

func (r *rssSampler) reset() {
	r.mu.Lock()
	r.peak = make([]int, len(r.hubs.procs))
	r.mu.Unlock()
}

func (r *rssSampler) describe() string {
	r.sample()
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for i, v := range r.hubs.rss() {
		parts = append(parts, fmt.Sprintf("%d MiB (peak %d MiB)", v>>10, r.peak[i]>>10))
	}
	return strings.Join(parts, ", ")
}

func (r *rssSampler) stop() { close(r.stp); <-r.done }

// verify reads every cluster's findings count and its agent's last applied
// sequence number from the database and compares them with what the sims
// sent.
func verify(ctx context.Context, o options, database string, sims []*sim, st *stats) (bool, error) {
	var s store.Store
	var err error
	if p, ok := strings.CutPrefix(database, "sqlite://"); ok {
		s, err = store.OpenSQLite(ctx, p)
	} else {
		s, err = store.OpenPostgres(ctx, database)
	}
	if err != nil {
		return false, err
	}
	defer s.Close()
	pgStats := ""
	if !strings.HasPrefix(database, "sqlite://") {
		pgStats = postgresFlushes(ctx, database, st.applied.Load())
	}
	var sent uint64
	bad := 0
	for _, sm := range sims {
		sent += sm.seq
		a, err := s.GetAgent(ctx, sm.id.agentID)
		if err != nil {
			return false, err
		}
		n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: sm.id.clusterID})
		if err != nil {
			return false, err
		}
		if a.LastSeq != sm.seq || n != sm.model.findings() {
			if bad < 10 {
				logf("MISMATCH cluster %s: last seq %d, sent %d; findings %d, want %d", sm.id.clusterID, a.LastSeq, sm.seq, n, sm.model.findings())
			}
			bad++
		}
	}
	if pgStats != "" {
		logf("%s", pgStats)
	}
	var findings int
	for _, sm := range sims {
		findings += sm.model.findings()
	}
	if size := databaseBytes(ctx, database); size > 0 {
		logf("database: %.1f MB for %d clusters and %d findings: %.1f KB per cluster, %.0f bytes per finding",
			float64(size)/1e6, len(sims), findings, float64(size)/1e3/float64(len(sims)), float64(size)/float64(max(findings, 1)))
	}
	applied := st.applied.Load()
	logf("verify: %d reports sent, %d applied, %d duplicates answered to first attempts, %d to retries, %d rejected, %d client overflows; %d requests, %.1f MB of gzip; %d clusters mismatched; %d errors",
		sent, applied, st.dups.Load(), st.dupsRetry.Load(), st.rejected.Load(), st.overflow.Load(), st.requests.Load(), float64(st.bytes.Load())/1e6, bad, st.nErrs)
	for _, e := range st.errs {
		logf("error: %s", e)
	}
	logf("TLS handshakes: %d, %d of them resumed sessions", st.handshakes.Load(), st.resumed.Load())
	for _, e := range st.transportSummary() {
		logf("transport errors: %s", e)
	}
	ok := bad == 0 && st.nErrs == 0 && st.dups.Load() == 0 && st.rejected.Load() == 0 && st.overflow.Load() == 0 &&
		uint64(applied+st.dupsRetry.Load()) == sent
	if ok {
		logf("PASS: nothing lost, nothing counted twice, no errors")
	} else {
		logf("FAIL")
	}
	return ok, nil
}

// postgresFlushes reads how many transactions the hub's database committed
// and how many times PostgreSQL flushed its WAL (pg_stat_wal, PostgreSQL
// 14+): with durable settings every flush is an fdatasync, so reports per
// flush is what group commit buys.
func postgresFlushes(ctx context.Context, dsn string, applied int64) string {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "pg stats: " + err.Error()
	}
	defer db.Close()
	var commits, syncs int64
	if err := db.QueryRowContext(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&commits); err != nil {
		return "pg stats: " + err.Error()
	}
	if err := db.QueryRowContext(ctx, `SELECT wal_sync FROM pg_stat_wal`).Scan(&syncs); err != nil {
		return "pg stats: " + err.Error()
	}
	return fmt.Sprintf("PostgreSQL: %d transactions committed in the hub's database (reads included), %d WAL flushes (server-wide); %d reports applied: %.1f reports per flush",
		commits, syncs, applied, float64(applied)/float64(max(syncs, 1)))
}

// databaseBytes is the size of the hub's database: the SQLite files, or
// pg_database_size (tables, indexes and TOAST; not the WAL).
func databaseBytes(ctx context.Context, database string) int64 {
	if p, ok := strings.CutPrefix(database, "sqlite://"); ok {
		var n int64
		for _, f := range []string{p, p + "-wal"} {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	db, err := sql.Open("pgx", database)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int64
	_ = db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n
}
