package store

import (
	"math/rand/v2"
	"strings"
	"sync"
)

// Object digests cached per cluster (issue #17). A snapshot read its
// cluster's object_digests rows (about 500) back before every diff: a
// round trip in the writer's transaction, a row per object for the
// database to send and for the hub to decode. The hub now keeps, per
// cluster, the rows it last committed, and uses them instead of reading
// only while they are provably what the database holds. The proof is
// taken by claimSeq in the statement that locks the cluster's row, inside
// the writer's transaction:
//
//   - gen: every report batch that writes findings (and so object_digests)
//     advances clusters.gen by one, on any replica of any version since
//     migration 16. The cached rows are those after the commit that moved
//     gen to G; the claim that moves it to G+1 proves no other batch wrote
//     the cluster between.
//   - digests_tag (migration 18): the claim sets it to a new random value,
//     negated when it did not hold the value this hub last set. A database
//     restored under a running hub (or a replica writing it back to the
//     same gen) cannot hold the tag of a commit it does not contain.
//   - the completeness row: an operator's or an older hub's write of
//     findings deletes every cluster's (migration 17's trigger) without
//     touching clusters; the claim reads whether it is there (PostgreSQL;
//     on SQLite one hub process owns the database).
//
// Any other outcome — no entry, another gen, another tag, no completeness
// row — reads the rows back as before. The rows a transaction leaves are
// computed from the rows it started from and the writes it made (the
// same deletes and upserts as the statements), staged on its item, and
// published only after the commit succeeded: a transaction rolled back,
// an item rolled back to its savepoint or a commit whose outcome is
// unknown publishes nothing and drops the cluster's entry.

// digestCacheBytes bounds the memory of the rows cached over all clusters
// (about 150 bytes a row for ordinary object names: some 140,000 rows).
// It counts bytes, not rows: an object's key is the agent's
// Kind/Namespace/Name, whose length only the report's size limits, so a
// row bound would let a few hostile agents pin gigabytes. Past it, whole
// clusters are dropped at random (Go's map order); a dropped cluster's
// next snapshot reads its rows back.
const digestCacheBytes = 20 << 20

// digestRowOverhead is what a cached row costs besides its strings' bytes:
// the map entry, the key's and the two strings' headers, seen.
const digestRowOverhead = 96

// digestRowsCost is the memory rows hold in the cache, as counted against
// digestCacheBytes (the key and okey may share their bytes; both are
// counted).
func digestRowsCost(rows map[string]objectDigest) int {
	n := 0
	for k, d := range rows {
		n += len(k) + len(d.okey) + len(d.digest) + digestRowOverhead
	}
	return n
}

// digestCache is the hub's cached object_digests rows by the agent that
// last wrote them (its cluster's: the claim names the cluster only after
// the expected tag is sent).
type digestCache struct {
	mu       sync.Mutex
	clusters map[string]*cachedDigests
	bytes    int // the cost of every cached cluster's rows
	max      int // bound of bytes
}

// cachedDigests are a cluster's object_digests rows as committed, with the
// cluster's gen and digests_tag after that commit. Never changed once
// published (readers share it without the lock).
type cachedDigests struct {
	cluster  string
	gen, tag int64
	rows     map[string]objectDigest
	cost     int // digestRowsCost(rows)
}

func newDigestCache(max int) *digestCache {
	return &digestCache{clusters: map[string]*cachedDigests{}, max: max}
}

// valid returns the agent's cluster's cached rows if the claim (its
// cluster, new gen, whether the tag matched, whether the completeness row
// is there) proves them current, else nil.
func (c *digestCache) valid(agentID string, cl claim) map[string]objectDigest {
	if c == nil || !cl.tagKept || !cl.complete {
		return nil
	}
	c.mu.Lock()
	e := c.clusters[agentID]
	c.mu.Unlock()
	if e == nil || e.cluster != cl.cluster || e.gen+1 != cl.gen {
		return nil
	}
	return e.rows
}

// expectedTag is the digests_tag the agent's cluster holds if nothing but
// this hub wrote it since its last commit (0: none cached).
func (c *digestCache) expectedTag(agentID string) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.clusters[agentID]; e != nil {
		return e.tag
	}
	return 0
}

// publish records the rows of the agent's cluster a committed transaction
// left (rows nil: not known, the entry is dropped). An entry of a later
// gen, published first by another committer, is kept.
func (c *digestCache) publish(agentID, cluster string, gen, tag int64, rows map[string]objectDigest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.clusters[agentID]
	if old != nil && old.cluster == cluster && old.gen > gen {
		return
	}
	c.dropLocked(agentID)
	if rows == nil {
		return
	}
	cost := digestRowsCost(rows)
	if cost > c.max {
		return
	}
	for c.bytes+cost > c.max {
		for k := range c.clusters {
			c.dropLocked(k)
			break
		}
	}
	c.clusters[agentID] = &cachedDigests{cluster: cluster, gen: gen, tag: tag, rows: rows, cost: cost}
	c.bytes += cost
}

// drop forgets the rows of an agent's cluster.
func (c *digestCache) drop(agentID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(agentID)
}

func (c *digestCache) dropLocked(agentID string) {
	if e := c.clusters[agentID]; e != nil {
		c.bytes -= e.cost
		delete(c.clusters, agentID)
	}
}

// newDigestsTag is a claim's new digests_tag: random, never 0 (the
// column's value before any claim set it) and never negative (a negated
// tag says the claim found another).
func newDigestsTag() int64 { return 1 + rand.Int64N(1<<62) }

// digestsAfter is what object_digests holds for a cluster after dw, from
// what it held before (base; nil: not known, and then neither is the
// result unless dw replaces every row). It applies dw as writeDigests and
// writeFindingsSQL do: clear deletes every row, then del, then upsert.
// Strings are cloned: a report's may point into a pooled body buffer.
func digestsAfter(base map[string]objectDigest, dw digestWrites) map[string]objectDigest {
	if base == nil && !dw.clear {
		return nil
	}
	out := make(map[string]objectDigest, len(base)+len(dw.upsert))
	if !dw.clear {
		for k, v := range base {
			out[k] = v
		}
		for _, k := range dw.del {
			delete(out, k)
		}
	}
	for _, d := range dw.upsert {
		d.okey, d.digest = strings.Clone(d.okey), strings.Clone(d.digest)
		out[d.okey] = d
	}
	return out
}

// digestNext is what a report batch leaves to publish once committed: its
// cluster's gen and tag after the claim and the rows it leaves (nil: not
// known).
type digestNext struct {
	agentID  string
	cluster  string
	gen, tag int64
	rows     map[string]objectDigest
}

// publishDigests publishes the outcome of a batch whose transaction
// committed (ok) or drops its cluster's entry.
func (s *sqlStore) publishDigests(n *digestNext, ok bool) {
	if n == nil {
		return
	}
	if !ok || n.cluster == "" {
		s.digests.drop(n.agentID)
		return
	}
	s.digests.publish(n.agentID, n.cluster, n.gen, n.tag, n.rows)
}
