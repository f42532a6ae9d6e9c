package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Full heartbeats in sets, off the reports' queue.
//
// A heartbeat the coalescing (heartbeat.go) cannot decide is applied in
// full: the agent's row read and its contact written, its cluster's
// contact, queue length and drops written. In a 10,000-cluster run these
// went to the committers' groups, two statements each, behind the
// reports: at the start every agent's first heartbeat is full (the
// coalescing needs one in the last minute), 10,000 of them arrived within
// 15 s, each waited up to maxCommitWait for the writer and was refused,
// so the agent's next one was full again; the requests waiting in memory
// took the hub past its memory limit and progress stopped.
//
// So full heartbeats have their own queue and one goroutine that applies
// all those waiting at a moment together, in one transaction: on
// PostgreSQL four statements whatever their number (each table's rows
// locked in id order, then updated from unnest), on SQLite one prepared
// statement pair per heartbeat in one transaction. Their rows are locked
// in id order, agents before clusters, as the committers' groups lock
// theirs, so the two do not deadlock on one-agent clusters; should they
// (an agent of a cluster with several agents), the batch is retried once.

// maxHeartbeatBatch bounds the heartbeats applied in one transaction.
const maxHeartbeatBatch = 1024

// hbItem is one full heartbeat waiting for the batcher.
type hbItem struct {
	ctx     context.Context
	agentID string
	hb      fleetapi.Heartbeat
	now     time.Time
	out     heartbeatOutcome
	err     error
	done    chan struct{}
	state   atomic.Int32 // itemQueued, itemStarted or itemAbandoned
}

type hbBatcher struct {
	s       *sqlStore
	mu      sync.Mutex
	queue   []*hbItem
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	maxWait time.Duration
	// rate measures the heartbeats applied a second, to bound the queue
	// to what can be served within maxWait.
	rate drainRate
	// batches counts the transactions run (tests).
	batches atomic.Int64
	// hold, when set (tests), is waited for before each batch.
	hold chan struct{}
}

func (s *sqlStore) startHeartbeats() { s.startHeartbeatsWith(maxCommitWait, 4*maxHeartbeatBatch, nil) }

// startHeartbeatsWith starts the batcher with maxWait, the least bound of
// its queue, and (tests) a channel each batch waits for.
func (s *sqlStore) startHeartbeatsWith(maxWait time.Duration, floor int, hold chan struct{}) {
	b := &hbBatcher{s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), maxWait: maxWait,
		rate: drainRate{floor: floor}, hold: hold}
	s.hbs = b
	go b.loop()
}

// stopHeartbeats ends the goroutine once the queued heartbeats are done.
func (s *sqlStore) stopHeartbeats() {
	if s.hbs == nil {
		return
	}
	close(s.hbs.stop)
	<-s.hbs.done
	s.hbs = nil
}

// submit queues a full heartbeat and waits for its outcome. A queue
// already longer than what the batcher serves within maxWait is answered
// ErrBusy at once: holding the request would only add to the memory of
// those waiting, and it would most likely be refused anyway.
func (b *hbBatcher) submit(it *hbItem) error {
	it.done = make(chan struct{})
	b.mu.Lock()
	if len(b.queue) >= b.rate.bound(b.maxWait) {
		b.mu.Unlock()
		return ErrBusy
	}
	b.queue = append(b.queue, it)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	if err := awaitItem(it.ctx, it.done, &it.state, b.maxWait, b.stop); err != nil {
		return err
	}
	return it.err
}

// next takes the next batch: up to maxHeartbeatBatch items whose callers
// still wait, one per agent (a second heartbeat of the same agent waits for the next batch,
// so each is applied as if alone, in order).
func (b *hbBatcher) next() []*hbItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch, rest []*hbItem
	agents := map[string]bool{}
	for _, it := range b.queue {
		if len(batch) >= maxHeartbeatBatch || agents[it.agentID] {
			rest = append(rest, it)
			continue
		}
		if !it.state.CompareAndSwap(itemQueued, itemStarted) {
			continue // abandoned: its caller has returned
		}
		if it.err = it.ctx.Err(); it.err != nil {
			close(it.done) // its caller is leaving: not applied
			continue
		}
		agents[it.agentID] = true
		batch = append(batch, it)
	}
	b.queue = rest
	return batch
}

func (b *hbBatcher) loop() {
	defer close(b.done)
	for {
		select {
		case <-b.wake:
		case <-b.stop:
			for batch := b.next(); len(batch) > 0; batch = b.next() {
				b.run(batch)
			}
			return
		}
		if b.hold != nil {
			select {
			case <-b.hold:
			case <-b.stop:
			}
		}
		for batch := b.next(); len(batch) > 0; batch = b.next() {
			b.run(batch)
		}
	}
}

// run applies a batch and tells each item its outcome.
//
// On SQLite the batch commits without a sync of the WAL, as the
// committers' groups do, and its heartbeats are answered once the
// syncer has synced it (walsync.go); the batcher goes on meanwhile.
func (b *hbBatcher) run(live []*hbItem) {
	defer b.rate.served(len(live), time.Now())
	seen, ws := b.s.seen, b.s.walSync
	answer := func(err error) {
		for _, it := range live {
			if err != nil {
				it.out, it.err = heartbeatOutcome{}, err
			}
		}
		if seen != nil && err == nil {
			seen.appliedBatch(live)
		}
		for _, it := range live {
			close(it.done)
		}
	}
	if ws != nil {
		if err := ws.err(); err != nil {
			answer(err) // a WAL sync failed: nothing more is applied
			return
		}
	}
	ctx := context.WithoutCancel(live[0].ctx)
	apply := func(tx *sql.Tx) error { return b.s.heartbeatsIn(ctx, tx, live) }
	var err error
	for range 2 { // once more after a deadlock or a failed commit
		b.batches.Add(1)
		if ws != nil {
			err = b.s.groupTx(ctx, func(tx *sql.Tx, _ copyFunc) error { return apply(tx) })
		} else {
			err = b.s.tx(ctx, apply)
		}
		if err == nil {
			break
		}
	}
	if err == nil && ws != nil {
		ws.after(answer)
		return
	}
	answer(err)
}

// heartbeatsIn applies the heartbeats of items (one per agent) in tx,
// leaving each one's outcome (or ErrNotFound for an unknown agent) in it;
// an error is the database's, for all of them.
func (s *sqlStore) heartbeatsIn(ctx context.Context, tx *sql.Tx, items []*hbItem) error {
	sort.Slice(items, func(i, j int) bool { return items[i].agentID < items[j].agentID })
	if !s.d.dollar {
		for _, it := range items {
			it.out, it.err = s.heartbeatIn(ctx, tx, it.agentID, it.hb, it.now)
			if it.err != nil && !errors.Is(it.err, ErrNotFound) {
				return it.err
			}
		}
		return nil
	}
	ids := make([]string, len(items))
	at := make([]int64, len(items))
	for i, it := range items {
		ids[i], at[i] = it.agentID, ms(it.now)
	}
	if _, err := s.exec(ctx, tx, `SELECT 1 FROM (SELECT id FROM agents WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE) l`, ids); err != nil {
		return fmt.Errorf("heartbeats of %d agents: %w", len(ids), err)
	}
	rows, err := s.query(ctx, tx, `UPDATE agents AS a SET last_seen = v.at
		FROM unnest(?::text[], ?::bigint[]) AS v(id, at) WHERE a.id = v.id
		RETURNING a.id, a.cluster_id, a.last_seq, a.created_at, a.last_report`, ids, at)
	if err != nil {
		return fmt.Errorf("heartbeats of %d agents: %w", len(ids), err)
	}
	type agentRow struct {
		cluster                      string
		lastSeq, created, lastReport int64
	}
	found := make(map[string]agentRow, len(ids))
	for rows.Next() {
		var id string
		var r agentRow
		if err := rows.Scan(&id, &r.cluster, &r.lastSeq, &r.created, &r.lastReport); err != nil {
			rows.Close()
			return fmt.Errorf("heartbeats of %d agents: %w", len(ids), err)
		}
		found[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("heartbeats of %d agents: %w", len(ids), err)
	}
	// Each cluster's row ends as if its agents' heartbeats had been
	// applied one by one in the order they arrived (here: their times):
	// the queue length of the last, the largest drop count, the time of
	// the last that counted as contact.
	type clusterSet struct {
		at, pending, dropped, lastAt int64
		contact                      bool
	}
	set := map[string]*clusterSet{}
	for _, it := range items {
		r, ok := found[it.agentID]
		if !ok {
			it.out, it.err = heartbeatOutcome{}, fmt.Errorf("agent %s: %w", it.agentID, ErrNotFound)
			continue
		}
		it.out, it.err = judgeHeartbeat(it.hb, ms(it.now), r.cluster, r.lastSeq, r.created, r.lastReport), nil
		c := set[r.cluster]
		if c == nil {
			c = &clusterSet{lastAt: math.MinInt64}
			set[r.cluster] = c
		}
		now := ms(it.now)
		if now >= c.lastAt {
			c.lastAt, c.pending = now, int64(min(it.hb.Pending, math.MaxInt64))
		}
		c.dropped = max(c.dropped, int64(min(it.hb.Dropped, math.MaxInt64)))
		if it.out.contact && (!c.contact || now >= c.at) {
			c.at, c.contact = now, true
		}
	}
	if len(set) == 0 {
		return nil
	}
	cids := make([]string, 0, len(set))
	for id := range set {
		cids = append(cids, id)
	}
	sort.Strings(cids)
	cat := make([]int64, len(cids))
	pending := make([]int64, len(cids))
	dropped := make([]int64, len(cids))
	contact := make([]bool, len(cids))
	for i, id := range cids {
		c := set[id]
		cat[i], pending[i], dropped[i], contact[i] = c.at, c.pending, c.dropped, c.contact
	}
	if _, err := s.exec(ctx, tx, `SELECT 1 FROM (SELECT id FROM clusters WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE) l`, cids); err != nil {
		return fmt.Errorf("heartbeats of %d clusters: %w", len(cids), err)
	}
	if _, err := s.exec(ctx, tx, `UPDATE clusters AS c SET
			last_seen = CASE WHEN v.contact THEN v.at ELSE c.last_seen END,
			pending = v.pending,
			dropped = GREATEST(c.dropped, v.dropped)
		FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::boolean[]) AS v(id, at, pending, dropped, contact)
		WHERE c.id = v.id`, cids, cat, pending, dropped, contact); err != nil {
		return fmt.Errorf("heartbeats of %d clusters: %w", len(cids), err)
	}
	return nil
}

// drainRate estimates how many items a queue's server completes a
// second, over the last few seconds, and from it how many may wait: a
// queue longer than rate × wait cannot be served within wait. floor is
// the least bound, so a queue that has been idle (no rate measured) still
// takes a burst.
type drainRate struct {
	mu     sync.Mutex
	floor  int
	start  time.Time // of the current window
	count  int       // items served in it
	perSec float64   // of the last full window
}

// rateWindow is the window over which the rate is measured.
const rateWindow = 2 * time.Second

func (r *drainRate) served(n int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() {
		r.start = now
	}
	if d := now.Sub(r.start); d >= rateWindow {
		r.perSec = float64(r.count) / d.Seconds()
		r.start, r.count = now, 0
	}
	r.count += n
}

// bound is how many items may wait for at most wait.
func (r *drainRate) bound(wait time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.floor, int(min(r.perSec*wait.Seconds(), 1<<30)))
}
