package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Group commit. Reports and heartbeats of many agents are applied by a
// few committer goroutines, each running a group of them in one
// transaction: one commit (on PostgreSQL one WAL flush, on SQLite one
// append of the pages the group changed) for up to maxGroupWork items
// instead of one per item. A group runs first as plain statements; if an
// item fails, that transaction is rolled back and the group runs again
// with each item inside its own SAVEPOINT, so one that fails (an unknown
// agent, a sequence number too far ahead, a database error on its rows)
// is rolled back alone and gets its own error; the others commit. A failed commit fails every item of the group, none
// applied: the agents resend, and deduplication by Seq keeps the outcome
// exactly once.
//
// Fairness: items are small (deltas, heartbeats) or large (full
// snapshots and batches over largeWork objects). Small items are grouped;
// a large one runs alone, and a committer alternates between the two
// queues when both wait, so a cluster's snapshot delays the others'
// deltas by at most one snapshot, and a stream of deltas never starves
// the snapshots.
//
// Decoding and the per-finding work that needs no database (encoding each
// finding, its fingerprint, the objects in scope) happen before an item
// is queued (prepareFindings), in the caller's goroutine, outside the
// writer.

// maxGroupWork bounds one group: objects of reports plus one per
// heartbeat or report.
const maxGroupWork = 2048

// maxGroupItems bounds the reports and heartbeats of one group: a group
// holds the row locks of every agent it has touched until it commits, and
// each item is a few statements, each a round trip. In a 10,000-cluster
// run, groups of 2,000 heartbeats held 2,000 agents' rows for 30 s, and
// the other committers' groups queued on those locks.
const maxGroupItems = 128

// largeWork is the objects above which an item runs in its own
// transaction.
const largeWork = 256

type commitItem struct {
	ctx     context.Context
	agentID string
	now     time.Time
	// a report batch (envs, prep) or a heartbeat (hb)
	envs  []*fleetapi.Envelope
	prep  []*preparedFindings
	hb    *fleetapi.Heartbeat
	hbOut *heartbeatOutcome
	work  int

	applied []bool
	err     error
	// digests: what the batch leaves in object_digests, published
	// once its group committed (digestcache.go).
	digests digestNext
	done    chan struct{}
	// state: itemQueued until a committer starts the item's group
	// (itemStarted) or its caller stops waiting first (itemAbandoned); the
	// one compare-and-swap that wins decides whether it is applied.
	state atomic.Int32
}

const (
	itemQueued int32 = iota
	itemStarted
	itemAbandoned
)

// ErrBusy is an item that waited maxCommitWait without a committer
// starting it: nothing of it was applied. The hub answers 429 with
// Retry-After, and the agent sends it again (from its outbox, or at its
// next heartbeat).
var ErrBusy = errors.New("the database writer is busy; nothing was applied, try again later")

// maxCommitWait bounds how long an item waits in the queue for a
// committer. Without a bound, a hub behind its load held requests until
// the HTTP server's write timeout (2 minutes) closed their connections,
// which agents saw as EOF; an answer that says "later" keeps the
// connection and the agent's backlog on its own disk.
const maxCommitWait = 15 * time.Second

type committer struct {
	s            *sqlStore
	small, large chan *commitItem
	stop         chan struct{}
	wg           sync.WaitGroup
	// maxWait is maxCommitWait (shorter in tests).
	maxWait time.Duration
	// running counts the groups being applied and committed; ended gets
	// a signal (if none is pending) each time one ends. A committer whose
	// group could grow waits for one of them (gather).
	running atomic.Int32
	ended   chan struct{}
	// gatherFor is maxGather (longer in tests).
	gatherFor time.Duration
	// gathered counts the items a group took while waiting in gather.
	gathered atomic.Int64
	// rate measures the items the committers apply a second, to bound
	// the small queue to what they serve within maxWait.
	rate drainRate
}

// minCommitQueue is the least bound of the committers' small queue: what
// waits when no rate has been measured yet (an idle replica).
const minCommitQueue = 1024

// maxGather bounds how long a committer holds a group open for more
// items while another group is being committed.
const maxGather = 5 * time.Millisecond

// startCommitters starts n committer goroutines (SQLite: 1, its one
// writer; PostgreSQL: a few, each on its own connection).
func (s *sqlStore) startCommitters(n int) {
	c := &committer{s: s, small: make(chan *commitItem, 4096), large: make(chan *commitItem, 256), stop: make(chan struct{}), maxWait: maxCommitWait,
		ended: make(chan struct{}, 1), gatherFor: maxGather,
		rate: drainRate{floor: minCommitQueue}}
	s.commit = c
	for range n {
		c.wg.Go(c.loop)
	}
}

// idle reports whether no report or heartbeat waits for a committer.
func (c *committer) idle() bool { return len(c.small) == 0 && len(c.large) == 0 }

// stopCommitters ends the goroutines once the queued items are done.
func (s *sqlStore) stopCommitters() {
	if s.commit == nil {
		return
	}
	close(s.commit.stop)
	s.commit.wg.Wait()
	s.commit = nil
}

// submit queues the item and waits for its outcome.
func (c *committer) submit(it *commitItem) error {
	it.done = make(chan struct{})
	q := c.small
	if it.work > largeWork {
		q = c.large
	}
	// A queue already longer than the committers serve within maxWait
	// is answered at once: the item would most likely wait maxWait and
	// be refused, and meanwhile its request's memory (body, decoded
	// report, connection buffers) would add to a hub already behind. In
	// a 10,000-cluster run the requests held so took the hub past its
	// memory limit.
	if q == c.small && len(q) >= c.rate.bound(c.maxWait) {
		return ErrBusy
	}
	// A full channel is the same: the large queue's bound is its
	// capacity.
	select {
	case <-c.stop:
		return errors.New("store closed")
	default:
	}
	select {
	case q <- it:
	default:
		return ErrBusy
	}
	// Its caller may give up until a committer starts it (awaitItem).
	if err := awaitItem(it.ctx, it.done, &it.state, c.maxWait, nil); err != nil {
		return err
	}
	return it.err
}

// awaitItem waits for a queued item (committers' or heartbeat batcher's)
// to be done. Until a worker has started it (state), its caller gives up
// after maxWait (ErrBusy), when ctx ends (its error) or when stop closes
// (nil: never), and the worker then skips it; once started, it is
// awaited to the end, so a caller never reports failure for an item that
// was committed.
func awaitItem(ctx context.Context, done <-chan struct{}, state *atomic.Int32, maxWait time.Duration, stop <-chan struct{}) error {
	t := time.NewTimer(maxWait)
	defer t.Stop()
	var gaveUp error
	select {
	case <-done:
		return nil
	case <-t.C:
		gaveUp = ErrBusy
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-stop:
		gaveUp = errors.New("store closed")
	}
	if state.CompareAndSwap(itemQueued, itemAbandoned) {
		return gaveUp
	}
	<-done
	return nil
}

func (c *committer) loop() {
	preferLarge := false
	for {
		var first *commitItem
		// Alternate when both queues wait.
		if preferLarge {
			select {
			case first = <-c.large:
			default:
			}
		}
		if first == nil {
			select {
			case first = <-c.small:
			case first = <-c.large:
			case <-c.stop:
				c.drain()
				return
			}
		}
		if first.work > largeWork {
			c.run([]*commitItem{first})
			preferLarge = false
			continue
		}
		group := []*commitItem{first}
		work := first.work
	more:
		for work < maxGroupWork && len(group) < maxGroupItems {
			select {
			case it := <-c.small:
				group = append(group, it)
				work += it.work
			default:
				break more
			}
		}
		group = c.gather(group, work)
		c.running.Add(1)
		c.run(group)
		c.running.Add(-1)
		select {
		case c.ended <- struct{}{}:
		default:
		}
		preferLarge = true
	}
}

// gather adds to a group the small items that arrive while another
// group is being committed, until that one ends, the group is full or
// maxGather passes. Under load, reports then arrive during each commit
// (on PostgreSQL a WAL flush, about 5 ms on this machine's disk), and
// the next group takes all of them into its one commit instead of
// starting at once with the first: groups grow with the load, commits do
// not. With nothing else running, a group starts at once.
func (c *committer) gather(group []*commitItem, work int) []*commitItem {
	if work >= maxGroupWork || len(group) >= maxGroupItems || c.running.Load() == 0 {
		return group
	}
	// A signal left by an earlier end says nothing about the groups now
	// running.
	select {
	case <-c.ended:
	default:
	}
	t := time.NewTimer(c.gatherFor)
	defer t.Stop()
	for work < maxGroupWork && len(group) < maxGroupItems {
		select {
		case it := <-c.small:
			group = append(group, it)
			work += it.work
			c.gathered.Add(1)
		case <-c.ended:
			return group
		case <-t.C:
			return group
		}
	}
	return group
}

// drain fails what is still queued at Close.
func (c *committer) drain() {
	for {
		select {
		case it := <-c.small:
			it.err = errors.New("store closed")
			close(it.done)
		case it := <-c.large:
			it.err = errors.New("store closed")
			close(it.done)
		default:
			return
		}
	}
}

// errItemFailed ends a group's transaction run without savepoints when
// one of its items fails.
var errItemFailed = errors.New("an item of the group failed")

// apply runs one item in tx, leaving its outcome in it.
func (c *committer) apply(ctx context.Context, tx *sql.Tx, cp copyFunc, it *commitItem) {
	it.err, it.applied = nil, nil
	if it.hb != nil {
		var out heartbeatOutcome
		out, it.err = c.s.heartbeatIn(ctx, tx, it.agentID, *it.hb, it.now)
		if it.hbOut != nil {
			*it.hbOut = out
		}
		return
	}
	it.applied, it.err = c.s.ingestIn(ctx, tx, cp, it.agentID, it.envs, it.prep, it.now, &it.digests)
}

// run applies a group in one transaction.
func (c *committer) run(group []*commitItem) {
	// Items whose callers gave up before the group started are skipped
	// (nothing of theirs is applied, and they are told so).
	live := make([]*commitItem, 0, len(group))
	for _, it := range group {
		if !it.state.CompareAndSwap(itemQueued, itemStarted) {
			continue // abandoned: its caller has returned
		}
		if err := it.ctx.Err(); err != nil {
			it.err = err
			close(it.done)
			continue
		}
		live = append(live, it)
	}
	if len(live) == 0 {
		return
	}
	if ws := c.s.walSync; ws != nil {
		if err := ws.err(); err != nil {
			// A WAL sync failed: nothing more is applied (walsync.go).
			for _, it := range live {
				it.err = err
				close(it.done)
			}
			return
		}
	}
	defer c.rate.served(len(live), time.Now())
	// One lock order for every group (agents' rows, then clusters'), so
	// two committers' groups cannot deadlock on PostgreSQL.
	sort.SliceStable(live, func(i, j int) bool { return live[i].agentID < live[j].agentID })
	ctx := context.WithoutCancel(live[0].ctx)
	began := time.Now()
	// A group is first run without savepoints (two statements fewer per
	// item, and no subtransactions on PostgreSQL): items almost never
	// fail. If one does, that transaction is rolled back, nothing of it
	// applied, and the group runs again with a savepoint per item.
	err := errItemFailed
	if len(live) > 1 {
		err = c.s.groupTx(ctx, func(tx *sql.Tx, cp copyFunc) error {
			for _, it := range live {
				if c.apply(ctx, tx, cp, it); it.err != nil {
					return errItemFailed
				}
			}
			return nil
		})
	}
	if errors.Is(err, errItemFailed) {
		err = c.s.groupTx(ctx, func(tx *sql.Tx, cp copyFunc) error {
			for _, it := range live {
				if len(live) > 1 {
					if _, err := tx.ExecContext(ctx, "SAVEPOINT item"); err != nil {
						return fmt.Errorf("savepoint: %w", err)
					}
				}
				c.apply(ctx, tx, cp, it)
				if len(live) == 1 {
					return it.err
				}
				stmt := "RELEASE SAVEPOINT item"
				if it.err != nil {
					stmt = "ROLLBACK TO SAVEPOINT item"
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", stmt, err)
				}
				if it.err != nil {
					// ROLLBACK TO keeps the savepoint; release it so the
					// next item's is the only one.
					if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT item"); err != nil {
						return fmt.Errorf("release savepoint: %w", err)
					}
				}
			}
			return nil
		})
	}
	if err == nil {
		c.s.groupCommits.Add(1)
		c.s.groupItems.Add(int64(len(live)))
	}
	c.s.commitTimes.observe(time.Since(began))
	for _, it := range live {
		switch {
		case err != nil && (len(live) > 1 || it.err == nil):
			// The transaction failed as a whole: nothing was applied.
			it.err, it.applied = err, nil
		case it.err != nil:
			it.applied = nil
		}
		if it.envs != nil {
			// In group order: a later item of the same cluster
			// publishes its later gen last.
			c.s.publishDigests(&it.digests, it.err == nil)
		}
	}
	if err == nil && c.s.walSync != nil {
		// Committed, not yet synced: the syncer answers the items.
		c.s.walSync.after(func(err error) {
			for _, it := range live {
				if err != nil {
					it.err, it.applied = err, nil
				}
				close(it.done)
			}
		})
		return
	}
	for _, it := range live {
		close(it.done)
	}
}
