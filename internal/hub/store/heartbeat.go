package store

import (
	"context"
	"database/sql"
	"fmt"
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
// transaction: two row updates, a WAL flush on PostgreSQL. Most of them
// say what the previous one said (nothing queued, nothing dropped, the
// same last Seq); what they add is the time of contact. So a replica
// remembers, per agent, the last heartbeat it applied in full and when; a
// heartbeat equal to it, with nothing queued, within heartbeatRecheck of
// it, is only recorded in memory as contact, and every seenFlushEvery the
// contacts gathered are written in one transaction of two set-based
// statements (write-behind). Reads of cluster and agent state flush first,
// so a replica always reads its own contacts; another replica sees them
// at most seenFlushEvery late, far inside the stale threshold (90 s by
// default).
//
// What a coalesced heartbeat skips is the checks that decide whether a
// heartbeat counts as contact (heartbeatIn): an agent with reports
// queued (Pending > 0) never coalesces, so "stuck" and "refused as too far
// ahead" are always decided in full; a forged report that runs the
// agent's Seq ahead on another replica is noticed by the next full
// heartbeat, at most heartbeatRecheck later.

// heartbeatRecheck bounds how long heartbeats of an agent are coalesced
// after its last full one.
const heartbeatRecheck = time.Minute

// seenFlushEvery is how often coalesced contacts are written.
const seenFlushEvery = 5 * time.Second

// maxSeenAgents bounds the agents remembered (about 200 bytes each); past
// it heartbeats go to the database in full.
const maxSeenAgents = 1 << 20

// seenAgent is the last heartbeat of an agent applied in full.
type seenAgent struct {
	cluster string
	hb      fleetapi.Heartbeat // Time cleared
	at      int64              // ms, when it was applied
}

// contact is a coalesced heartbeat waiting to be written.
type contact struct {
	cluster string
	at      int64 // ms
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

// coalescible: the parts of a heartbeat that the full path compares.
func coalescible(hb fleetapi.Heartbeat) (fleetapi.Heartbeat, bool) {
	hb.Time = time.Time{}
	return hb, hb.Pending == 0 && !hb.Resync
}

// record takes hb as contact when it repeats the agent's last full
// heartbeat recently enough; false means it must be applied in full.
func (c *seenCache) record(agentID string, hb fleetapi.Heartbeat, now int64) bool {
	key, ok := coalescible(hb)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.last[agentID]
	if !ok || l.hb != key || now < l.at || now-l.at >= heartbeatRecheck.Milliseconds() {
		return false
	}
	if d, ok := c.due[agentID]; !ok || d.at < now {
		c.due[agentID] = contact{cluster: l.cluster, at: now}
	}
	c.coalesced.Add(1)
	return true
}

// applied remembers a heartbeat applied in full; contact false (its
// agent is stuck or its Seq refused) forgets the agent, so its next
// heartbeat is checked in full too.
func (c *seenCache) applied(agentID, cluster string, hb fleetapi.Heartbeat, now int64, contact bool) {
	c.full.Add(1)
	key, ok := coalescible(hb)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok || !contact {
		delete(c.last, agentID)
		return
	}
	if _, known := c.last[agentID]; !known && len(c.last) >= maxSeenAgents {
		return
	}
	c.last[agentID] = seenAgent{cluster: cluster, hb: key, at: now}
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
	latest := map[string]int64{}
	for id, ct := range due {
		agents = append(agents, id)
		agentAt = append(agentAt, ct.at)
		latest[ct.cluster] = max(latest[ct.cluster], ct.at)
	}
	clusters := make([]string, 0, len(latest))
	clusterAt := make([]int64, 0, len(latest))
	for id, at := range latest {
		clusters = append(clusters, id)
		clusterAt = append(clusterAt, at)
	}
	err := s.tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, "agents", "", agents, agentAt); err != nil {
			return fmt.Errorf("agents: %w", err)
		}
		if err := s.touch(ctx, tx, "clusters", ", pending = 0", clusters, clusterAt); err != nil {
			return fmt.Errorf("clusters: %w", err)
		}
		return nil
	})
	if err != nil {
		c.putBack(due)
		return fmt.Errorf("recording %d heartbeats: %w", len(due), err)
	}
	return nil
}

// touch moves last_seen of the rows of table forward to at, setting also
// the assignments in extra on the rows it moves: one statement on
// PostgreSQL (unnest), chunks of a VALUES list on SQLite.
func (s *sqlStore) touch(ctx context.Context, tx *sql.Tx, table, extra string, ids []string, at []int64) error {
	if s.d.dollar {
		_, err := tx.ExecContext(ctx, `UPDATE `+table+` AS t SET last_seen = v.at`+extra+`
			FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE t.id = v.id AND t.last_seen < v.at`, ids, at)
		return err
	}
	per := max(1, s.d.maxParams/2)
	for start := 0; start < len(ids); start += per {
		end := min(len(ids), start+per)
		args := make([]any, 0, 2*(end-start))
		for i := start; i < end; i++ {
			args = append(args, ids[i], at[i])
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?), ", end-start), ", ")
		if _, err := tx.ExecContext(ctx, `WITH v(id, at) AS (VALUES `+values+`)
			UPDATE `+table+` SET last_seen = v.at`+extra+` FROM v WHERE `+table+`.id = v.id AND `+table+`.last_seen < v.at`, args...); err != nil {
			return err
		}
	}
	return nil
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
