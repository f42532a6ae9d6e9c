package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Heartbeats that change nothing skip the database.
//
// An agent heartbeats every 30 s (the fleet benchmark: 15 s); a fleet of
// 10,000 clusters sends 330–670 a second, and each used to be a
// transaction: two row updates, a WAL flush on PostgreSQL. What most of
// them add is the time of contact and the agent's queue length. So a
// replica remembers, per agent, what the database said at the agent's
// last heartbeat applied in full (its cluster, last applied Seq, time of
// enrolment and of its last report) and when; a heartbeat within
// heartbeatRecheck of it that those values already show to count as
// contact is only recorded in memory (contact and queue length), and
// every seenFlushEvery the contacts gathered are written in one
// transaction of two set-based statements (write-behind). Reads of
// cluster and agent state flush first, so a replica always reads its own
// contacts; another replica sees them at most seenFlushEvery late, far
// inside the stale threshold (90 s by default).
//
// This holds for agents with reports queued too. In a 10,000-cluster
// run they did not coalesce: once the hub fell behind, every agent had
// reports queued, so every heartbeat (670 a second) became two
// statements in the committers' groups, each a round trip inside an open
// transaction; the reports queued behind them, the agents' queues grew,
// and the replica stalled for good.
//
// Sound because the values remembered only move one way in the database:
// the last applied Seq and the time of the last report only grow. A
// heartbeat judged contact by the remembered ones is contact by the
// database's (a report applied since only makes an agent less stuck and
// its queue less far ahead); one that would not count (stuck, refused as
// too far ahead, behind the hub's Seq) by the remembered values goes to
// the database, which decides. A forged report that runs the agent's Seq
// ahead on another replica is noticed by the next full heartbeat, at most
// heartbeatRecheck later. Drops and resyncs always go to the database.

// heartbeatRecheck bounds how long heartbeats of an agent are coalesced
// after its last full one.
const heartbeatRecheck = time.Minute

// seenFlushEvery is how often coalesced contacts are written.
const seenFlushEvery = 5 * time.Second

// maxSeenAgents bounds the agents remembered (about 200 bytes each); past
// it heartbeats go to the database in full.
const maxSeenAgents = 1 << 20

// seenAgent is what the database said at the agent's last heartbeat
// applied in full, and when.
type seenAgent struct {
	cluster string
	dropped uint64 // as that heartbeat said
	// lastSeq, created and lastReport as read from the agent's row (ms).
	lastSeq             uint64
	created, lastReport int64
	at                  int64 // ms, when it was applied
}

// contact is a coalesced heartbeat waiting to be written.
type contact struct {
	cluster string
	at      int64 // ms
	pending uint64
}

// seenCache holds the coalescing state of one store (one replica).
type seenCache struct {
	mu   sync.Mutex
	last map[string]seenAgent
	due  map[string]contact
	// flushMu serialises flushes, so a read that flushes sees every
	// contact recorded before it, even those a concurrent flush took.
	flushMu sync.Mutex

	// full and coalesced count heartbeats by path (tests, metrics).
	full, coalesced atomic.Int64

	stop chan struct{}
	done chan struct{}
}

func newSeenCache() *seenCache {
	return &seenCache{last: map[string]seenAgent{}, due: map[string]contact{}}
}

// counts is whether hb counts as contact by the agent's remembered
// state: the checks of heartbeatIn, against values that can only be
// behind the database's in the direction that makes them stricter.
func (l seenAgent) counts(hb fleetapi.Heartbeat, now int64) bool {
	if hb.Resync || hb.Dropped != l.dropped {
		return false
	}
	if hb.Pending > 0 && now-max(l.created, l.lastReport) > StuckAfter.Milliseconds() {
		return false
	}
	return hb.LastSeq == 0 || (hb.LastSeq >= l.lastSeq && !seqRefused(hb, l.lastSeq))
}

// record takes hb as contact when the agent's last full heartbeat is
// recent enough and its remembered state shows hb counts; false means
// it must be applied in full.
func (c *seenCache) record(agentID string, hb fleetapi.Heartbeat, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.last[agentID]
	if !ok || now < l.at || now-l.at >= heartbeatRecheck.Milliseconds() || !l.counts(hb, now) {
		return false
	}
	if d, ok := c.due[agentID]; !ok || d.at < now {
		c.due[agentID] = contact{cluster: l.cluster, at: now, pending: hb.Pending}
	}
	c.coalesced.Add(1)
	return true
}

// applied remembers a heartbeat applied in full and what the database
// said; a heartbeat that did not count as contact (its agent is stuck or
// its Seq refused) or asked to resync forgets the agent, so its next
// heartbeat is checked in full too.
func (c *seenCache) applied(agentID string, hb fleetapi.Heartbeat, out heartbeatOutcome, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appliedLocked(agentID, hb, out, now)
}

// appliedBatch is applied for a batch of heartbeats, under one lock: in
// a 10,000-cluster run, 600 requests of a batch just applied waited for
// the lock one by one on a busy machine.
func (c *seenCache) appliedBatch(items []*hbItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if it.err == nil {
			c.appliedLocked(it.agentID, it.hb, it.out, ms(it.now))
		}
	}
}

func (c *seenCache) appliedLocked(agentID string, hb fleetapi.Heartbeat, out heartbeatOutcome, now int64) {
	c.full.Add(1)
	if hb.Resync || !out.contact {
		delete(c.last, agentID)
		return
	}
	if _, known := c.last[agentID]; !known && len(c.last) >= maxSeenAgents {
		return
	}
	c.last[agentID] = seenAgent{cluster: out.cluster, dropped: hb.Dropped, lastSeq: out.lastSeq, created: out.created, lastReport: out.lastReport, at: now}
}

// take empties the contacts due.
func (c *seenCache) take() map[string]contact {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.due) == 0 {
		return nil
	}
	d := c.due
	c.due = map[string]contact{}
	return d
}

// putBack returns contacts whose write failed, keeping any newer one.
func (c *seenCache) putBack(d map[string]contact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ct := range d {
		if cur, ok := c.due[id]; !ok || cur.at < ct.at {
			c.due[id] = ct
		}
	}
}

// flushSeen writes the coalesced contacts: last_seen of their agents and
// clusters moves forward to them (never back: a report or another
// replica's heartbeat may have written a later one), and the cluster's
// pending count is 0, as the heartbeat said. A failed write keeps them
// for the next flush.
func (s *sqlStore) flushSeen(ctx context.Context) error {
	c := s.seen
	if c == nil {
		return nil
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	due := c.take()
	if len(due) == 0 {
		return nil
	}
	agents := make([]string, 0, len(due))
	agentAt := make([]int64, 0, len(due))
	latest := map[string]contact{} // by cluster: its latest contact
	for id, ct := range due {
		agents = append(agents, id)
		agentAt = append(agentAt, ct.at)
		if l, ok := latest[ct.cluster]; !ok || l.at < ct.at {
			latest[ct.cluster] = ct
		}
	}
	clusters := make([]string, 0, len(latest))
	clusterAt := make([]int64, 0, len(latest))
	pending := make([]int64, 0, len(latest))
	for id, ct := range latest {
		clusters = append(clusters, id)
		clusterAt = append(clusterAt, ct.at)
		pending = append(pending, int64(min(ct.pending, math.MaxInt64)))
	}
	var skipped map[string]bool
	err := s.tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		skipped = map[string]bool{}
		sa, err := s.touch(ctx, tx, "agents", agents, agentAt, nil)
		if err != nil {
			return fmt.Errorf("agents: %w", err)
		}
		sc, err := s.touch(ctx, tx, "clusters", clusters, clusterAt, pending)
		if err != nil {
			return fmt.Errorf("clusters: %w", err)
		}
		for _, id := range sa {
			skipped[id] = true
		}
		for _, id := range sc {
			skipped["\x00"+id] = true
		}
		return nil
	})
	if err != nil {
		c.putBack(due)
		return fmt.Errorf("recording %d heartbeats: %w", len(due), err)
	}
	if len(skipped) > 0 {
		// Skipped rows are tried again at the next flush, for at most
		// heartbeatRecheck (a deleted agent's row is "skipped" for
		// good; a locked one is being written by a report anyway).
		var newest int64
		for _, ct := range due {
			newest = max(newest, ct.at)
		}
		again := map[string]contact{}
		for id, ct := range due {
			if (skipped[id] || skipped["\x00"+ct.cluster]) && newest-ct.at < heartbeatRecheck.Milliseconds() {
				again[id] = ct
			}
		}
		c.putBack(again)
	}
	return nil
}

// touch moves last_seen of the rows of table forward to at, and, when
// pending is not nil, sets their pending column to it (the queue length
// the heartbeat said) on the rows it moves: on PostgreSQL two statements
// whatever the number of rows (unnest), on SQLite chunks of a VALUES
// list. On PostgreSQL rows locked by a report's transaction are skipped,
// not waited for, and returned: a flush, which readers of the replica
// wait for, must never queue behind the fleet's reports (under load
// their transactions hold agents' and clusters' rows for seconds).
func (s *sqlStore) touch(ctx context.Context, tx *sql.Tx, table string, ids []string, at, pending []int64) (skipped []string, err error) {
	if s.d.dollar {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM `+table+` WHERE id = ANY($1::text[]) FOR UPDATE SKIP LOCKED`, ids)
		if err != nil {
			return nil, err
		}
		locked := make(map[string]bool, len(ids))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			locked[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		var mine []string
		var mineAt, minePending []int64
		for i, id := range ids {
			if locked[id] {
				mine, mineAt = append(mine, id), append(mineAt, at[i])
				if pending != nil {
					minePending = append(minePending, pending[i])
				}
			} else {
				skipped = append(skipped, id) // locked elsewhere, or gone
			}
		}
		if len(mine) == 0 {
			return skipped, nil
		}
		if pending == nil {
			_, err = tx.ExecContext(ctx, `UPDATE `+table+` AS t SET last_seen = v.at
				FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE t.id = v.id AND t.last_seen < v.at`, mine, mineAt)
			return skipped, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE `+table+` AS t SET last_seen = v.at, pending = v.pending
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, at, pending) WHERE t.id = v.id AND t.last_seen < v.at`, mine, mineAt, minePending)
		return skipped, err
	}
	cols, set := 2, ""
	if pending != nil {
		cols, set = 3, ", pending = v.pending"
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + "), "
	per := max(1, s.d.maxParams/cols)
	for start := 0; start < len(ids); start += per {
		end := min(len(ids), start+per)
		args := make([]any, 0, cols*(end-start))
		for i := start; i < end; i++ {
			args = append(args, ids[i], at[i])
			if pending != nil {
				args = append(args, pending[i])
			}
		}
		names := "id, at"
		if pending != nil {
			names = "id, at, pending"
		}
		values := strings.TrimSuffix(strings.Repeat(row, end-start), ", ")
		if _, err := tx.ExecContext(ctx, `WITH v(`+names+`) AS (VALUES `+values+`)
			UPDATE `+table+` SET last_seen = v.at`+set+` FROM v WHERE `+table+`.id = v.id AND `+table+`.last_seen < v.at`, args...); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// startSeen starts the write-behind loop.
func (s *sqlStore) startSeen() {
	c := newSeenCache()
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	s.seen = c
	go func() {
		defer close(c.done)
		t := time.NewTicker(seenFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				// A failure keeps the contacts for the next tick; the
				// next full heartbeat or report writes contact anyway.
				_ = s.flushSeen(context.Background())
			case <-c.stop:
				return
			}
		}
	}()
}

// stopSeen ends the loop and writes what is due.
func (s *sqlStore) stopSeen() error {
	c := s.seen
	if c == nil {
		return nil
	}
	close(c.stop)
	<-c.done
	err := s.flushSeen(context.Background())
	s.seen = nil
	return err
}
