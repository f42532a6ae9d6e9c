package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// ---- ingest

func (s *sqlStore) Ingest(ctx context.Context, agentID string, env *fleetapi.Envelope, now time.Time) (bool, error) {
	applied, err := s.IngestBatch(ctx, agentID, []*fleetapi.Envelope{env}, now)
	if err != nil {
		return false, err
	}
	return applied[0], nil
}

// MaxSeqAdvance bounds how far one report's Seq may be beyond the highest
// Seq applied from its agent. The agent numbers its outbox reports one by
// one (reports dropped from a full outbox still use their numbers), so a
// genuine agent advances by the reports it made while cut off from the
// hub: far less than a million. Without a bound, a single report with
// Seq 2^63-1 from a stolen certificate made every later genuine report a
// silent duplicate. A new agent (re-enrolment) starts again from 0.
const MaxSeqAdvance = 1_000_000

// StuckAfter is how long an agent may have reports queued (its heartbeat's
// Pending) without any being applied before its heartbeats stop counting
// as contact: twenty heartbeats. A healthy agent drains its outbox in
// seconds once the hub answers.
const StuckAfter = 10 * time.Minute

// IngestBatch applies several envelopes of one agent, in increasing Seq
// order, in one transaction: each is applied at most once exactly as
// Ingest would (a Seq at or below the agent's highest applied one is a
// replay), and the result says which were applied. An error applies none.
func (s *sqlStore) IngestBatch(ctx context.Context, agentID string, envs []*fleetapi.Envelope, now time.Time) ([]bool, error) {
	for i, env := range envs {
		if err := env.Validate(); err != nil {
			return nil, fmt.Errorf("report %d: %w", env.Seq, err)
		}
		if i > 0 && env.Seq <= envs[i-1].Seq {
			return nil, fmt.Errorf("report %d after %d: sequence numbers must increase within a batch", env.Seq, envs[i-1].Seq)
		}
	}
	prep := make([]*preparedFindings, len(envs))
	work := 0
	for i, env := range envs {
		work++
		if env.Kind == fleetapi.KindFindings {
			p, err := prepareFindings(env.Findings)
			if err != nil {
				return nil, fmt.Errorf("report %d: %w", env.Seq, err)
			}
			prep[i] = p
			work += len(env.Findings.Objects) + len(env.Findings.Deleted)
			if env.Findings.Full {
				work += largeWork // a snapshot replaces the whole cluster's rows
			}
		}
	}
	if s.commit != nil {
		it := &commitItem{ctx: ctx, agentID: agentID, now: now, envs: envs, prep: prep, work: work}
		if err := s.commit.submit(it); err != nil {
			return nil, err
		}
		return it.applied, nil
	}
	var applied []bool
	var next digestNext
	err := s.txCopy(ctx, func(tx *sql.Tx, cp copyFunc) error {
		var err error
		applied, err = s.ingestIn(ctx, tx, cp, agentID, envs, prep, now, &next)
		return err
	})
	s.publishDigests(&next, err == nil)
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// ingestIn applies the envelopes in tx (IngestBatch's contract); prep
// holds the findings envelopes prepared outside it; cp, when not nil,
// COPYs rows in tx (PostgreSQL).
//
// next, when not nil, is set to what the batch leaves in object_digests
// for the digest cache (digestcache.go), published once committed.
func (s *sqlStore) ingestIn(ctx context.Context, tx *sql.Tx, cp copyFunc, agentID string, envs []*fleetapi.Envelope, prep []*preparedFindings, now time.Time, next *digestNext) ([]bool, error) {
	if next != nil {
		*next = digestNext{agentID: agentID}
	}
	applied := make([]bool, len(envs))
	// Deduplication: the update takes the agent's row lock, which
	// serialises its reports across replicas, and returns the highest
	// Seq applied so far (re-read after the lock on PostgreSQL).
	c, err := s.claimSeq(ctx, tx, agentID, envs, now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("agent %s: %w", agentID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", agentID, err)
	}
	clusterID, lastSeq := c.cluster, c.lastSeq
	var fresh []int
	var dropped int64
	for i, env := range envs {
		if env.Cluster != "" && env.Cluster != clusterID {
			return nil, fmt.Errorf("agent %s of cluster %s, report for %s: %w", agentID, clusterID, env.Cluster, ErrWrongCluster)
		}
		// Compared as unsigned: a Seq of 2^63 or more must not wrap
		// to a negative number and pass as a replay.
		if env.Seq > uint64(lastSeq) {
			if env.Seq-uint64(lastSeq) > MaxSeqAdvance {
				return nil, fmt.Errorf("agent %s of cluster %s: report %d after %d (at most %d ahead): %w",
					agentID, clusterID, env.Seq, lastSeq, MaxSeqAdvance, ErrSeqAdvance)
			}
			fresh = append(fresh, i)
			dropped = max(dropped, int64(env.Dropped))
		}
	}
	if len(fresh) == 0 {
		return applied, nil
	}
	gen := c.gen
	if !c.claimed {
		var tag int64
		if err := s.queryRow(ctx, tx, clusterGenSQL,
			ms(now), dropped, dropped, c.wantTag, c.newTag, c.newTag, clusterID).Scan(&gen, &tag); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", clusterID, err)
		}
		// One hub process owns a SQLite database: its completeness
		// row changes only through this hub's commits.
		c.gen, c.tag, c.tagKept, c.complete = gen, tag, tag == c.newTag, true
	}
	// The object_digests rows the batch starts from, if the cache
	// holds them (nil: read when needed), then those each report leaves.
	var digests map[string]objectDigest
	known := false
	if !s.noDigests {
		digests = s.digests.valid(agentID, c)
		known = digests != nil
	}
	for _, i := range fresh {
		env := envs[i]
		a := applier{s: s, tx: tx, cp: cp, cluster: clusterID, gen: gen, now: ms(now), seq: env.Seq, digests: digests, digestsKnown: known}
		switch env.Kind {
		case fleetapi.KindFindings:
			p := prep[i]
			if p == nil {
				if p, err = prepareFindings(env.Findings); err != nil {
					return nil, fmt.Errorf("cluster %s: report %d (%s): %w", clusterID, env.Seq, env.Kind, err)
				}
			}
			err = a.findings(ctx, p)
			digests, known = a.digests, a.digestsKnown
		case fleetapi.KindInventory:
			err = a.inventory(ctx, env.Inventory)
		case fleetapi.KindImages:
			err = a.images(ctx, env.Images)
		case fleetapi.KindImageScan:
			err = a.imageScan(ctx, env.ImageScan)
		case fleetapi.KindAdmission:
			err = a.admission(ctx, env.Admission)
		case fleetapi.KindImageVerification:
			err = a.imageVerification(ctx, env.ImageVerification)
		case fleetapi.KindRuntime:
			err = a.runtime(ctx, env.Runtime)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster %s: report %d (%s): %w", clusterID, env.Seq, env.Kind, err)
		}
		applied[i] = true
	}
	if next != nil && known {
		*next = digestNext{agentID: agentID, cluster: clusterID, gen: c.gen, tag: c.tag, rows: digests}
	}
	if c.claimed {
		return applied, nil
	}
	if _, err := s.exec(ctx, tx, agentSeqSQL, int64(envs[fresh[len(fresh)-1]].Seq), ms(now), agentID); err != nil {
		return nil, fmt.Errorf("agent %s: seq: %w", agentID, err)
	}
	return applied, nil
}

// The bookkeeping statements of a report where one statement does not do
// it all (SQLite; see claimSeq).
const (
	sqliteClaimSQL = `UPDATE agents SET last_seen = ? WHERE id = ? RETURNING cluster_id, last_seq`
	clusterGenSQL  = `UPDATE clusters SET gen = gen + 1, last_seen = ?, dropped = CASE WHEN dropped < ? THEN ? ELSE dropped END,
		digests_tag = CASE WHEN digests_tag = ? THEN ? ELSE -? END WHERE id = ? RETURNING gen, digests_tag`
	agentSeqSQL = `UPDATE agents SET last_seq = ?, last_report = ? WHERE id = ?`
)

// claim is what claimSeq found and did: the agent's cluster, the highest
// Seq applied before the batch, and, when claimed, the cluster's new gen.
type claim struct {
	cluster string
	lastSeq int64
	// claimed: the one statement also moved the agent's last_seq (and
	// last_report) to the batch's last Seq and, if the batch holds a
	// report after lastSeq, advanced the cluster's gen (gen), last_seen
	// and dropped as ingestIn would.
	claimed bool
	gen     int64
	// The digest cache's proof (digestcache.go): wantTag is the
	// digests_tag the cache expects, newTag the one the claim sets
	// (negated in the column if the column did not hold wantTag); tag
	// is the column's new value, tagKept whether it held wantTag, and
	// complete whether the cluster's completeness row was there.
	wantTag, newTag, tag int64
	tagKept, complete    bool
}

// claimSeq takes the agent's row lock, which serialises its reports
// across replicas, records the contact, and returns its cluster and the
// highest Seq applied before this batch (as committed by any replica).
//
// On PostgreSQL one statement does all the bookkeeping of the batch: it
// moves last_seq (and last_report) to the batch's last Seq when that is
// ahead, and then also locks the cluster's row and advances its gen,
// last_seen and dropped (the highest Dropped of the reports after the old
// last_seq) — two round trips and two statements' parse, plan and
// executor start per report fewer than one statement each
// (TestStatementsPerDelta). ingestIn then refuses a batch that is too far
// ahead, rolling the statement back with it. On SQLite (one writer,
// statements in-process) ingestIn runs the other updates itself.
func (s *sqlStore) claimSeq(ctx context.Context, tx *sql.Tx, agentID string, envs []*fleetapi.Envelope, now time.Time) (c claim, err error) {
	maxSeq := envs[len(envs)-1].Seq
	c.wantTag, c.newTag = s.digests.expectedTag(agentID), newDigestsTag()
	if !s.d.dollar || maxSeq > math.MaxInt64 {
		// (Past MaxInt64 the batch is refused anyway.)
		err = s.queryRow(ctx, tx, sqliteClaimSQL, ms(now), agentID).Scan(&c.cluster, &c.lastSeq)
		return c, err
	}
	seqs, dropped := make([]int64, len(envs)), make([]int64, len(envs))
	for i, env := range envs {
		seqs[i], dropped[i] = int64(env.Seq), int64(env.Dropped)
	}
	// set_config marks the transaction as one that keeps object_digests
	// (migration 17: findings written without the mark void them).
	// o locks the agent's row and reads its last committed version
	// (READ COMMITTED re-reads a row locked by another transaction once
	// that one ends), so o.last_seq is what the batch is deduplicated
	// against. The cluster's row is locked after the agent's, the order
	// every writer keeps.
	// c also moves digests_tag, and the statement reads whether the
	// cluster's completeness row is there (digestcache.go).
	var gen, tag sql.NullInt64
	err = s.queryRow(ctx, tx, `WITH o AS (SELECT id, cluster_id, last_seq, last_report FROM agents WHERE id = $1 FOR UPDATE),
		a AS (UPDATE agents AS a SET last_seen = $2,
				last_seq = CASE WHEN o.last_seq < $3 THEN $3 ELSE o.last_seq END,
				last_report = CASE WHEN o.last_seq < $3 THEN $2 ELSE o.last_report END
			FROM o WHERE a.id = o.id RETURNING a.id),
		d AS (SELECT COALESCE(MAX(u.d), 0) AS v FROM o, unnest($4::bigint[], $5::bigint[]) AS u(s, d) WHERE u.s > o.last_seq),
		c AS (UPDATE clusters SET gen = gen + 1, last_seen = $2, dropped = CASE WHEN dropped < d.v THEN d.v ELSE dropped END,
				digests_tag = CASE WHEN digests_tag = $6::bigint THEN $7::bigint ELSE -$7::bigint END
			FROM o, d WHERE clusters.id = o.cluster_id AND o.last_seq < $3 RETURNING clusters.gen, clusters.digests_tag)
		SELECT o.cluster_id, o.last_seq, (SELECT gen FROM c), (SELECT digests_tag FROM c),
			EXISTS (SELECT 1 FROM object_digests WHERE cluster_id = o.cluster_id AND object_key = '') FROM o, a
		WHERE set_config('palisade.object_digests', 'kept', true) = 'kept'`, agentID, ms(now), int64(maxSeq), seqs, dropped, c.wantTag, c.newTag).Scan(&c.cluster, &c.lastSeq, &gen, &tag, &c.complete)
	c.claimed, c.gen, c.tag = true, gen.Int64, tag.Int64
	c.tagKept = tag.Valid && tag.Int64 == c.newTag
	return c, err
}

// applier writes one envelope inside its transaction.
type applier struct {
	s       *sqlStore
	tx      *sql.Tx
	cp      copyFunc // nil: no COPY (SQLite)
	cluster string
	gen     int64
	now     int64
	seq     uint64
	// digests are the cluster's object_digests rows before the report
	// when digestsKnown (the digest cache's, or those an earlier report
	// of the batch left), and after it once findings returns.
	digests      map[string]objectDigest
	digestsKnown bool
}

// ObjectKey identifies an object within a cluster.
func ObjectKey(o finding.ObjectRef) string {
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// FindingKey identifies a finding within its object: the same rule on the
// same container and field with the same message is the same finding.
//
// The key is stored (findings.fkey), so its value must never change: the
// first 16 bytes of the SHA-256 of the four fields, each followed by a
// NUL, in hex (TestFindingKeyStable). It is hashed from one buffer (on
// the stack for the usual sizes) rather than written field by field into
// a hash.Hash: one of the costs paid for every finding of every report.
func FindingKey(f *finding.Finding) string {
	var stack [512]byte
	b := stack[:0]
	for _, p := range [...]string{f.RuleID, f.Container, f.Field, f.Message} {
		b = append(b, p...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// insertRows runs a multi-row INSERT in chunks (listStatement.chunks).
func (a *applier) insertRows(ctx context.Context, head, tail string, cols int, rows [][]any) error {
	l := listStatement{prefix: head, item: "(" + placeholders(cols) + ")", suffix: tail, width: cols}
	return a.s.chunks(l, 0, len(rows), func(text string, start, end int) error {
		args := make([]any, 0, (end-start)*cols)
		for _, r := range rows[start:end] {
			args = append(args, r...)
		}
		_, err := a.s.exec(ctx, a.tx, text, args...)
		return err
	})
}

// lastSeenRefresh is the resolution of a finding's LastSeen: a finding
// reported again unchanged is rewritten only when its last_seen is at least
// this old, so steady-state reports and periodic snapshots do not rewrite
// every row of the cluster.
const lastSeenRefresh = time.Hour

// storedFinding is a findings row as the diff needs it.
type storedFinding struct {
	okey, fkey, rule, title, dhash string
	sev                            int
	suppressed                     bool
	lastSeen                       int64
}

// wantedFinding is a finding of the report: its JSON as received and
// that JSON's hash.
type wantedFinding struct {
	okey, fkey string
	// dsum is the data hash (dataHash) as bytes: made a string only for
	// the rows written.
	dsum dataSum
	// data is the finding's JSON, a slice of the report's body: made a
	// string only for the rows written, since a snapshot's findings are
	// mostly unchanged.
	data []byte
	f    *finding.Finding
	// stored: a stored row has the finding's key (set by the diff).
	stored bool
	// seen is the row's last_seen once the report is applied (set by the
	// diff): its object's digest records the oldest (objectDigest.seen).
	seen int64
	// sameID chains the report's findings of the same identity hash
	// (prepareFindings).
	sameID *wantedFinding
}

// preparedFindings is a findings delta with the work that needs no
// database done: each finding fingerprinted and its JSON hashed once,
// duplicates merged, the objects in scope listed. prepareFindings runs
// before the report reaches the writer (see groupcommit.go).
type preparedFindings struct {
	full bool
	// wanted indexes the findings of the objects keyed (keyObjects): a
	// delta's all; a snapshot's those it diffs.
	wanted map[[2]string]*wantedFinding
	order  []*wantedFinding
	scope  []string // objects whose stored rows the delta replaces (not for a full one)
	// objects are the report's objects that have findings, by key
	// (objects named with none, or deleted, are not here).
	objects map[string]*preparedObject
	// lazy counts the objects still lazy (preparedObject.lazy).
	lazy int
}

// preparedObject is one object of a report with its findings.
type preparedObject struct {
	okey     string
	findings []*wantedFinding
	// digest is the object's digest (objectDigestOf): equal digests,
	// equal rows.
	digest string
	// keyed: its findings' keys are computed and in wanted.
	keyed bool
	// lazy, for an object of a snapshot sent with a digest
	// (fleetapi.ObjectFindings.Digest), is the object as received: its
	// findings are neither hashed nor in order, and digest is the
	// agent's, until the writer finds the object changed and
	// materializes it (the stored digest differs, its rows are due the
	// last_seen refresh, or the snapshot is diffed whole).
	lazy *fleetapi.ObjectFindings
}

func prepareFindings(d *fleetapi.FindingsDelta) (*preparedFindings, error) {
	deletedObj := make(map[string]bool, len(d.Deleted))
	for _, o := range d.Deleted {
		deletedObj[ObjectKey(o)] = true
	}
	// named counts the report's mentions of each object: an object
	// named twice is merged here, never taken by the agent's digest.
	named := make(map[string]int, len(d.Objects))
	okeys := make([]string, len(d.Objects))
	for i := range d.Objects {
		okeys[i] = ObjectKey(d.Objects[i].Object)
		named[okeys[i]]++
	}
	n := 0
	for i := range d.Objects {
		if !lazyObject(d, i, okeys[i], named, deletedObj) {
			n += len(d.Objects[i].Findings)
		}
	}
	p := &preparedFindings{full: d.Full, order: make([]*wantedFinding, 0, n),
		objects: make(map[string]*preparedObject, len(d.Objects))}
	all := make([]wantedFinding, n) // one allocation for the report's findings
	// Findings sent twice are found by a hash of what FindingKey hashes
	// (and the object), their keys compared only when it matches: the
	// keys themselves, a SHA-256 each, are computed only for the objects
	// diffed (keyObjects), which a snapshot again is a few of.
	seed := maphash.MakeSeed()
	ids := make(map[uint64]*wantedFinding, n)
	for oi := range d.Objects {
		o := &d.Objects[oi]
		okey := okeys[oi]
		if deletedObj[okey] {
			continue // deleted in the same report: the deletion wins
		}
		if lazyObject(d, oi, okey, named, deletedObj) {
			p.objects[okey] = &preparedObject{okey: okey, digest: o.Digest, lazy: o}
			p.lazy++
			continue
		}
		// Read partially by the hub (fleetapi.DecodeReportBodyPartial)
		// but not left lazy (named twice): read whole now.
		if err := o.Complete(); err != nil {
			return nil, err
		}
		// The JSON as the agent sent it (fleetapi.DecodeReport) is
		// stored as it is; a report built in-process (tests, older
		// paths) is encoded here, as the agent would.
		raw := o.Raw
		if len(raw) != len(o.Findings) {
			raw = nil
		}
		for i := range o.Findings {
			f := &o.Findings[i]
			id := identityHash(seed, okey, f)
			if sentBefore(ids[id], okey, f) {
				continue // one row per finding, even if sent twice
			}
			data, err := findingData(raw, i, f)
			if err != nil {
				return nil, err
			}
			w := &all[len(p.order)]
			*w = wantedFinding{okey: okey, data: data, dsum: dataSumOf(data), f: f, sameID: ids[id]}
			ids[id] = w
			p.order = append(p.order, w)
			po := p.objects[okey]
			if po == nil {
				po = &preparedObject{okey: okey, findings: make([]*wantedFinding, 0, len(o.Findings)-i)}
				p.objects[okey] = po
			}
			po.findings = append(po.findings, w)
		}
	}
	for _, po := range p.objects {
		if po.lazy == nil {
			po.digest = objectDigestOf(po.findings)
		}
	}
	if !d.Full {
		p.keyObjects(nil) // a delta diffs all its objects
		p.scope = make([]string, 0, len(named)+len(deletedObj))
		for k := range named {
			p.scope = append(p.scope, k)
		}
		for k := range deletedObj {
			if named[k] == 0 {
				p.scope = append(p.scope, k)
			}
		}
		sort.Strings(p.scope)
	}
	return p, nil
}

// lazyObject: the i-th object of d, of key okey, is prepared lazily — a
// snapshot's object with findings and a digest of the right form, named
// once and not deleted (named and deleted as prepareFindings counts them).
func lazyObject(d *fleetapi.FindingsDelta, i int, okey string, named map[string]int, deleted map[string]bool) bool {
	o := &d.Objects[i]
	return d.Full && len(o.Findings) > 0 && named[okey] == 1 && !deleted[okey] && fleetapi.IsObjectDigest(o.Digest)
}

// findingData is the JSON of the i-th finding f of an object whose
// findings were received as raw (nil: built in-process, encoded here as
// the agent would).
func findingData(raw [][]byte, i int, f *finding.Finding) ([]byte, error) {
	if raw != nil {
		return raw[i], nil
	}
	return json.Marshal(f)
}

// materialize prepares the findings of a lazy object (preparedObject.lazy)
// as prepareFindings prepares the others — one row per finding key, each
// JSON hashed — and replaces the agent's digest with the one computed
// from them: the digest stored is always the hub's own. Only the writer
// calls it, for the objects a snapshot diffs (objectdigest.go), so it
// needs no lock; it is idempotent (a report retried after a rollback).
func (p *preparedFindings) materialize(po *preparedObject) error {
	o := po.lazy
	if o == nil {
		return nil
	}
	// Its findings, read partially by the hub, are read whole now.
	if err := o.Complete(); err != nil {
		return err
	}
	raw := o.Raw
	if len(raw) != len(o.Findings) {
		raw = nil
	}
	ws := make([]wantedFinding, 0, len(o.Findings))
	findings := make([]*wantedFinding, 0, len(o.Findings))
	keys := make(map[string]bool, len(o.Findings))
	for i := range o.Findings {
		f := &o.Findings[i]
		key := FindingKey(f)
		if keys[key] {
			continue // one row per finding, even if sent twice
		}
		keys[key] = true
		data, err := findingData(raw, i, f)
		if err != nil {
			return fmt.Errorf("object %s: %w", po.okey, err)
		}
		ws = append(ws, wantedFinding{okey: po.okey, fkey: key, data: data, dsum: dataSumOf(data), f: f})
		findings = append(findings, &ws[len(ws)-1])
	}
	po.findings, po.digest, po.lazy = findings, objectDigestOf(findings), nil
	p.order = append(p.order, findings...)
	p.lazy--
	return nil
}

// materializeAll materializes every lazy object (a snapshot diffed
// whole), in a fixed order.
func (p *preparedFindings) materializeAll() error {
	if p.lazy == 0 {
		return nil
	}
	okeys := make([]string, 0, p.lazy)
	for okey, po := range p.objects {
		if po.lazy != nil {
			okeys = append(okeys, okey)
		}
	}
	sort.Strings(okeys)
	for _, okey := range okeys {
		if err := p.materialize(p.objects[okey]); err != nil {
			return err
		}
	}
	return nil
}

// identityHash hashes what identifies a finding within the report: its
// object and FindingKey's fields.
func identityHash(seed maphash.Seed, okey string, f *finding.Finding) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(okey)
	h.WriteByte(0)
	for _, p := range [...]string{f.RuleID, f.Container, f.Field, f.Message} {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// sentBefore: a finding of the chain of those with f's identity hash
// (sameID) is f again: the same object and FindingKey.
func sentBefore(chain *wantedFinding, okey string, f *finding.Finding) bool {
	if chain == nil {
		return false
	}
	key := FindingKey(f)
	for w := chain; w != nil; w = w.sameID {
		if w.okey == okey && w.key() == key {
			return true
		}
	}
	return false
}

// key is the finding's FindingKey, computed once.
func (w *wantedFinding) key() string {
	if w.fkey == "" {
		w.fkey = FindingKey(w.f)
	}
	return w.fkey
}

// keyObjects computes the finding keys of the objects (nil: all of them)
// and indexes their findings in p.wanted by (object key, finding key),
// for the diff against the stored rows.
func (p *preparedFindings) keyObjects(objects []string) {
	if p.wanted == nil {
		size := len(p.order)
		if objects != nil {
			size = 0
		}
		p.wanted = make(map[[2]string]*wantedFinding, size)
	}
	key := func(po *preparedObject) {
		if po == nil || po.keyed {
			return
		}
		po.keyed = true
		for _, w := range po.findings {
			p.wanted[[2]string{po.okey, w.key()}] = w
		}
	}
	if objects == nil {
		for _, po := range p.objects {
			key(po)
		}
		return
	}
	for _, okey := range objects {
		key(p.objects[okey])
	}
}

// findings applies a findings delta by diffing it against the stored rows
// of the objects it covers (the whole cluster for a full snapshot): rows
// are keyed by the stable fingerprint (object key, FindingKey) and only new
// or changed findings are written, only vanished ones deleted. The
// counters (counters.go) follow from the same diff; a full snapshot
// recounts the cluster, which also repairs counters of any older hub.
//
// On PostgreSQL the writes of a delta are one statement (writeFindings):
// with the read of the stored rows and claimSeq's, a delta is three
// statements (TestStatementsPerDelta).
func (a *applier) findings(ctx context.Context, p *preparedFindings) error {
	// sub are the report's findings whose objects' rows are read: all
	// of them but for a snapshot that reads back only the objects whose
	// digests changed (objectdigest.go).
	plan := &digestPlan{all: true}
	if !a.s.noDigests {
		var err error
		if plan, err = a.planDigests(ctx, p); err != nil {
			return fmt.Errorf("findings: object digests: %w", err)
		}
	}
	if plan.all {
		// Every object diffed: those sent with a digest are prepared
		// now.
		if err := p.materializeAll(); err != nil {
			return fmt.Errorf("findings: %w", err)
		}
	}
	a.s.lazyObjects.Add(int64(p.lazy))
	order, scope := p.order, p.scope
	all, sub := p.full, order
	if p.full && !plan.all {
		all, scope, sub = false, plan.scope, plan.wanted
	}
	if p.full {
		if all {
			p.keyObjects(nil)
		} else {
			p.keyObjects(scope)
		}
	}
	wanted := p.wanted
	stored, err := a.storedFindings(ctx, all, scope, len(sub))
	if err != nil {
		return fmt.Errorf("findings: read: %w", err)
	}
	a.s.diffRows.Add(int64(len(stored)))
	// The findings to write: as the rows' values only where they are
	// passed as rows (COPY, SQLite's multi-row INSERTs); PostgreSQL's
	// statement takes them as columns (writeFindings).
	var write, insert []*wantedFinding
	var gone [][2]string
	// Each wanted finding is marked when a stored row matches it (the
	// marks of an earlier attempt of the same report, rolled back, are
	// cleared first): the unmarked are new.
	for _, w := range sub {
		w.stored, w.seen = false, a.now
	}
	for i := range stored {
		r := &stored[i]
		k := [2]string{r.okey, r.fkey}
		w := wanted[k]
		switch {
		case w == nil:
			gone = append(gone, k)
		case !w.dsum.is(r.dhash) || a.now-r.lastSeen >= lastSeenRefresh.Milliseconds():
			w.stored = true
			write = append(write, w)
		default:
			w.stored, w.seen = true, r.lastSeen
		}
	}
	for _, w := range sub {
		if !w.stored {
			insert = append(insert, w)
		}
	}
	var digests digestWrites
	if !a.s.noDigests {
		digests = plan.writes(p)
	}
	// A snapshot's findings are the cluster's rows afterwards, so its
	// counters are counted from the report; a delta naming many objects
	// recounts the cluster's rows.
	recount := !p.full && len(scope) > recountAbove
	var counters *counterDiff
	switch {
	case p.full:
		counters = fullCounters(p)
	case !recount:
		counters = diffCounters(stored, order)
	}
	// A snapshot that left objects lazy (unchanged, by the agent's
	// digests) charges its rows as a delta does: the stored count plus
	// the rows inserted less those deleted, whatever the lazy objects
	// claim to hold.
	charge := findingsCharge{full: p.full && p.lazy == 0, inserted: len(insert), deleted: len(gone), total: len(order)}
	// New rows (a first snapshot's, all of them) go in with COPY where
	// there are many: no conflict is possible, since the cluster's row,
	// locked above (claimSeq), serialises its reports and the rows were
	// just read. Otherwise they join the upsert. The quota is charged
	// before a COPY, so that a report over it is refused before its rows
	// are copied.
	if a.cp != nil && len(insert) >= copyAbove {
		if err := a.chargeFindings(ctx, charge); err != nil {
			return err
		}
		charge.done = true
		if err := a.cp(ctx, "findings", findingColumns, a.findingRows(insert)); err != nil {
			return fmt.Errorf("findings: copy: %w", err)
		}
	} else {
		write = append(write, insert...)
	}
	if a.s.d.dollar {
		if err := a.writeFindings(ctx, charge, write, gone, counters, digests); err != nil {
			return err
		}
		a.afterDigests(p.full, plan, digests)
	} else {
		if !charge.done {
			if err := a.chargeFindings(ctx, charge); err != nil {
				return err
			}
		}
		if err := a.upsertFindings(ctx, a.findingRows(write)); err != nil {
			return fmt.Errorf("findings: %w", err)
		}
		if err := a.deleteFindings(ctx, gone); err != nil {
			return fmt.Errorf("findings: delete: %w", err)
		}
		if counters != nil {
			if err := a.applyCounterDiff(ctx, counters); err != nil {
				return err
			}
		}
		if !a.s.noDigests {
			if err := a.writeDigests(ctx, digests); err != nil {
				return fmt.Errorf("findings: object digests: %w", err)
			}
			a.afterDigests(p.full, plan, digests)
		}
	}
	if recount {
		return a.recount(ctx)
	}
	return nil
}

// add counts one open finding.
func (o *openFindings) add(okey, rule, title string, sev int) {
	o.bySeverity[sev]++
	r := o.rules[rule]
	if r == nil {
		r = &ruleObjects{objects: map[string]bool{}}
		o.rules[rule] = r
	}
	r.objects[okey] = true
	if sev > r.severity {
		r.severity = sev
	}
	if title > r.title {
		r.title = title
	}
}

// copyAbove is the new findings rows from which a report COPYs them
// (PostgreSQL): below it, the one prepared upsert costs less than COPY's
// extra round trips.
const copyAbove = 256

// findingColumns are the columns of findingRow, in its order.
var findingColumns = []string{"cluster_id", "object_key", "fkey", "gen", "rule_id", "severity", "kind", "namespace", "name", "title", "suppressed", "data", "first_seen", "last_seen", "dhash"}

const findingsUpsertTail = ` ON CONFLICT (cluster_id, object_key, fkey) DO UPDATE SET gen = excluded.gen, severity = excluded.severity, title = excluded.title, suppressed = excluded.suppressed, data = excluded.data, dhash = excluded.dhash, last_seen = excluded.last_seen`

// upsertFindings writes findingRow rows (SQLite: multi-row INSERTs;
// PostgreSQL writes them in writeFindings).
func (a *applier) upsertFindings(ctx context.Context, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return a.insertRows(ctx, findingsUpsertList.prefix, findingsUpsertList.suffix, findingsUpsertList.width, rows)
}

// findingsUpsertList upserts findingRow rows (SQLite).
var findingsUpsertList = listStatement{
	prefix: `INSERT INTO findings (cluster_id, object_key, fkey, gen, rule_id, severity, kind, namespace, name, title, suppressed, data, first_seen, last_seen, dhash) VALUES `,
	item:   "(" + placeholders(15) + ")", suffix: findingsUpsertTail, width: 15,
}

// writeFindingsSQL is every write of a findings report on PostgreSQL
// in one statement. The rows travel as arrays and unnest turns them into
// rows, so the text never changes whatever the numbers of rows (one
// prepared statement per connection, planned once) where a multi-row
// VALUES list is a new statement for every row count, parsed and planned
// each time. Its parts touch disjoint rows (data-modifying WITH queries
// all see the statement's snapshot, not one another's changes): the
// upsert the report's findings, the delete the stored findings it no
// longer has; the rule counters that shrink are updated or deleted by
// whether they reach zero, the others upserted; with $24 (a snapshot's
// counters, absolute) the counters it has replace the stored ones and
// the others are deleted. The main UPDATE charges the cluster's
// findings rows unless $27 (charged before a COPY). The last parts
// keep object_digests (objectdigest.go): the digests to upsert ($28–$30)
// and the objects' to delete ($31; with $32, every other object's).
const writeFindingsSQL = `WITH
	up AS (INSERT INTO findings (cluster_id, object_key, fkey, gen, rule_id, severity, kind, namespace, name, title, suppressed, data, first_seen, last_seen, dhash)
		SELECT $1, u.o, u.f, $2, u.r, u.s, u.k, u.ns, u.n, u.t, u.su, u.d, $3, $3, u.h
		FROM unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::text[]) AS u(o, f, r, s, k, ns, n, t, su, d, h)` + findingsUpsertTail + `),
	del AS (DELETE FROM findings WHERE cluster_id = $1 AND (object_key, fkey) IN (SELECT * FROM unnest($15::text[], $16::text[]))),
	sdel AS (DELETE FROM cluster_severity_counts WHERE $24::boolean AND cluster_id = $1 AND NOT (severity = ANY($17::int[]))),
	sup AS (INSERT INTO cluster_severity_counts (cluster_id, severity, n) SELECT $1, u.s, u.n FROM unnest($17::int[], $18::int[]) AS u(s, n)
		ON CONFLICT (cluster_id, severity) DO UPDATE SET n = CASE WHEN $24::boolean THEN excluded.n ELSE cluster_severity_counts.n + excluded.n END),
	rules AS (SELECT * FROM unnest($19::text[], $20::text[], $21::int[], $22::int[]) AS u(r, t, s, n)),
	rdel AS (DELETE FROM cluster_rule_counts AS c WHERE c.cluster_id = $1 AND ($24::boolean AND NOT (c.rule_id = ANY($19::text[]))
		OR NOT $24::boolean AND EXISTS (SELECT 1 FROM rules u WHERE u.r = c.rule_id AND u.n < 0 AND c.objects + u.n <= 0))),
	rdown AS (UPDATE cluster_rule_counts AS c SET objects = c.objects + u.n,
			title = CASE WHEN u.t <> '' THEN u.t ELSE c.title END,
			severity = CASE WHEN u.s > c.severity THEN u.s ELSE c.severity END
		FROM rules u WHERE NOT $24::boolean AND u.n < 0 AND c.cluster_id = $1 AND c.rule_id = u.r AND c.objects + u.n > 0),
	rup AS (INSERT INTO cluster_rule_counts (cluster_id, rule_id, title, severity, objects)
		SELECT $1, u.r, u.t, u.s, u.n FROM rules u WHERE $24::boolean OR u.n >= 0
		ON CONFLICT (cluster_id, rule_id) DO UPDATE SET
			objects = CASE WHEN $24::boolean THEN excluded.objects ELSE cluster_rule_counts.objects + excluded.objects END,
			title = CASE WHEN $24::boolean OR excluded.title <> '' THEN excluded.title ELSE cluster_rule_counts.title END,
			severity = CASE WHEN $24::boolean OR excluded.severity > cluster_rule_counts.severity THEN excluded.severity ELSE cluster_rule_counts.severity END),
	charged AS (UPDATE clusters SET finding_rows = CASE WHEN $23::boolean THEN $25::bigint ELSE finding_rows + $26::bigint END, quota_refused_at = 0
		WHERE id = $1 AND NOT $27::boolean RETURNING finding_rows),
	ddel AS (DELETE FROM object_digests WHERE cluster_id = $1 AND (object_key = ANY($31::text[]) OR $32::boolean AND NOT (object_key = ANY($28::text[])))),
	dup AS (INSERT INTO object_digests (cluster_id, object_key, digest, seen) SELECT $1, u.o, u.d, u.s FROM unnest($28::text[], $29::text[], $30::bigint[]) AS u(o, d, s)
		ON CONFLICT (cluster_id, object_key) DO UPDATE SET digest = excluded.digest, seen = excluded.seen)
SELECT (SELECT finding_rows FROM charged)`

// writeFindings runs writeFindingsSQL: findings to upsert,
// rows gone, the counters' change (nil: none, the cluster is recounted
// after), and the charge of the cluster's findings rows, whose quota it
// then checks (the statement rolls back with the report if it is over).
func (a *applier) writeFindings(ctx context.Context, c findingsCharge, rows []*wantedFinding, gone [][2]string, counters *counterDiff, digests digestWrites) error {
	n := len(rows)
	okey, fkey, rule, kind, ns, name, title, data, dhash := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sev, sup := make([]int32, n), make([]int32, n)
	for i, w := range rows {
		f := w.f
		okey[i], fkey[i], rule[i] = w.okey, w.fkey, f.RuleID
		sev[i] = int32(f.Severity)
		kind[i], ns[i], name[i], title[i] = f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Title
		sup[i] = int32(b2i(f.Suppressed))
		data[i] = string(w.data)
		dhash[i] = w.dsum.String()
	}
	gokey, gfkey := make([]string, len(gone)), make([]string, len(gone))
	for i, k := range gone {
		gokey[i], gfkey[i] = k[0], k[1]
	}
	if counters == nil {
		counters = &counterDiff{}
	}
	ssev, sn := make([]int32, len(counters.sev)), make([]int32, len(counters.sev))
	for i, x := range counters.sev {
		ssev[i], sn[i] = int32(x.sev), int32(x.n)
	}
	rr, rt, rs, rn := make([]string, len(counters.rules)), make([]string, len(counters.rules)), make([]int32, len(counters.rules)), make([]int32, len(counters.rules))
	for i, x := range counters.rules {
		rr[i], rt[i], rs[i], rn[i] = x.rule, x.title, int32(x.sev), int32(x.n)
	}
	dokey, ddigest, dseen, ddel := digests.columns()
	var charged sql.NullInt64
	if err := a.s.queryRow(ctx, a.tx, writeFindingsSQL,
		a.cluster, a.gen, a.now, okey, fkey, rule, sev, kind, ns, name, title, sup, data, dhash,
		gokey, gfkey, ssev, sn, rr, rt, rs, rn,
		c.full, counters.absolute, int64(c.total), int64(c.inserted-c.deleted), c.done,
		dokey, ddigest, dseen, ddel, digests.clear).Scan(&charged); err != nil {
		return fmt.Errorf("findings: %w", err)
	}
	if c.done {
		return nil
	}
	return a.checkFindingsQuota(c, charged.Int64)
}

// findingRows are the findings' rows (findingRow).
func (a *applier) findingRows(ws []*wantedFinding) [][]any {
	rows := make([][]any, len(ws))
	for i, w := range ws {
		rows[i] = a.findingRow(w)
	}
	return rows
}

func (a *applier) findingRow(w *wantedFinding) []any {
	f := w.f
	return []any{a.cluster, w.okey, w.fkey, a.gen, f.RuleID, int(f.Severity), f.Object.Kind, f.Object.Namespace, f.Object.Name,
		f.Title, b2i(f.Suppressed), string(w.data), a.now, a.now, w.dsum.String()}
}

// dataSum is the hash a finding's stored JSON is compared by (the dhash
// column): the first 16 bytes of its SHA-256, stored in hex. Equal bytes
// are an unchanged finding; the agent encodes a finding deterministically
// (see fleetapi.DecodeReport), so different bytes are a changed one. Kept
// as bytes: a snapshot's findings are mostly unchanged, so their hashes
// are compared with the stored ones and digested (objectDigestOf) without
// a string each.
type dataSum [16]byte

func dataSumOf(data []byte) dataSum {
	sum := sha256.Sum256(data)
	return dataSum(sum[:16])
}

// hex is the data hash as stored: lower-case hexadecimal.
func (d *dataSum) hex() (h [32]byte) {
	hex.Encode(h[:], d[:])
	return h
}

func (d *dataSum) String() string {
	h := d.hex()
	return string(h[:])
}

// is: stored is this data hash.
func (d *dataSum) is(stored string) bool {
	h := d.hex()
	return string(h[:]) == stored
}

// storedFindings reads the stored findings of the cluster (all) or of the
// objects in scope.
//
// hint is about how many rows there are (a snapshot's findings: the
// cluster's rows are mostly the same ones).
func (a *applier) storedFindings(ctx context.Context, all bool, scope []string, hint int) ([]storedFinding, error) {
	const cols = storedScopeSelect
	var out []storedFinding
	read := func(q string, args ...any) error {
		rows, err := a.s.query(ctx, a.tx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r storedFinding
			var err error
			if all {
				err = rows.Scan(&r.okey, &r.fkey, &r.dhash, &r.lastSeen)
			} else {
				var sup int
				err = rows.Scan(&r.okey, &r.fkey, &r.rule, &r.title, &r.dhash, &r.sev, &sup, &r.lastSeen)
				r.suppressed = sup != 0
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	}
	if all {
		// A snapshot's counters are counted from the report
		// (fullCounters): the rows' rule, title, severity and
		// suppression are not needed, and not read.
		out = make([]storedFinding, 0, hint)
		return out, read(`SELECT object_key, fkey, dhash, last_seen FROM findings WHERE cluster_id = ?`, a.cluster)
	}
	if a.s.d.dollar {
		// One statement text whatever the scope's size (see
		// upsertFindings).
		if len(scope) == 0 {
			return out, nil
		}
		return out, read(cols+` AND object_key = ANY(?::text[])`, a.cluster, scope)
	}
	err := a.s.chunks(storedScopeList, 1, len(scope), func(text string, start, end int) error {
		args := make([]any, 0, end-start+1)
		args = append(args, a.cluster)
		for _, k := range scope[start:end] {
			args = append(args, k)
		}
		return read(text, args...)
	})
	return out, err
}

// storedScopeSelect reads the rows the diff of a delta needs.
const storedScopeSelect = `SELECT object_key, fkey, rule_id, title, dhash, severity, suppressed, last_seen FROM findings WHERE cluster_id = ?`

// storedScopeList is storedScopeSelect for a list of objects (SQLite).
var storedScopeList = listStatement{prefix: storedScopeSelect + ` AND object_key IN (`, item: "?", suffix: ")", width: 1}

// deleteFindings deletes rows by (object key, finding key) (SQLite;
// PostgreSQL deletes them in writeFindings).
func (a *applier) deleteFindings(ctx context.Context, keys [][2]string) error {
	return a.s.chunks(deleteFindingsList, 1, len(keys), func(text string, start, end int) error {
		args := make([]any, 0, 2*(end-start)+1)
		args = append(args, a.cluster)
		for _, k := range keys[start:end] {
			args = append(args, k[0], k[1])
		}
		_, err := a.s.exec(ctx, a.tx, text, args...)
		return err
	})
}

var deleteFindingsList = listStatement{prefix: `DELETE FROM findings WHERE cluster_id = ? AND (object_key, fkey) IN (VALUES `, item: "(?, ?)", suffix: ")", width: 2}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func (a *applier) inventory(ctx context.Context, inv *fleetapi.Inventory) error {
	l := a.s.ingestLimits()
	if err := a.checkItems("nodes", len(inv.Nodes), l.NodesPerCluster); err != nil {
		return err
	}
	if err := a.checkItems("rules", len(inv.Rules), l.RulesPerCluster); err != nil {
		return err
	}
	data, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	if _, err := a.s.exec(ctx, a.tx, `UPDATE clusters SET k8s_version = ?, distribution = ?, inventory = ? WHERE id = ?`,
		inv.KubernetesVersion, inv.Distribution, string(data), a.cluster); err != nil {
		return err
	}
	if _, err := a.s.exec(ctx, a.tx, `DELETE FROM nodes WHERE cluster_id = ?`, a.cluster); err != nil {
		return err
	}
	if _, err := a.s.exec(ctx, a.tx, `DELETE FROM cluster_rules WHERE cluster_id = ?`, a.cluster); err != nil {
		return err
	}
	var ruleRows [][]any
	seenRule := map[string]bool{}
	for _, r := range inv.Rules {
		if !seenRule[r] {
			seenRule[r] = true
			ruleRows = append(ruleRows, []any{a.cluster, r})
		}
	}
	if err := a.insertRows(ctx, `INSERT INTO cluster_rules (cluster_id, rule_id) VALUES `, ` ON CONFLICT (cluster_id, rule_id) DO NOTHING`, 2, ruleRows); err != nil {
		return err
	}
	var rows [][]any
	for _, n := range inv.Nodes {
		nd, err := json.Marshal(n)
		if err != nil {
			return err
		}
		rows = append(rows, []any{a.cluster, n.Name, n.Architecture, n.OS, string(nd)})
	}
	return a.insertRows(ctx, `INSERT INTO nodes (cluster_id, name, architecture, os, data) VALUES `, ` ON CONFLICT (cluster_id, name) DO NOTHING`, 5, rows)
}

func (a *applier) images(ctx context.Context, set *fleetapi.ImageSet) error {
	if err := a.checkItems("images in use", len(set.Images), a.s.ingestLimits().ImagesPerCluster); err != nil {
		return err
	}
	if _, err := a.s.exec(ctx, a.tx, `DELETE FROM cluster_images WHERE cluster_id = ?`, a.cluster); err != nil {
		return err
	}
	var rows [][]any
	for _, im := range set.Images {
		rows = append(rows, []any{a.cluster, im.Ref, im.Digest, im.Workloads, strings.Join(im.Namespaces, ",")})
	}
	return a.insertRows(ctx, `INSERT INTO cluster_images (cluster_id, ref, digest, workloads, namespaces) VALUES `,
		` ON CONFLICT (cluster_id, ref, digest) DO UPDATE SET workloads = excluded.workloads, namespaces = excluded.namespaces`, 5, rows)
}

func (a *applier) imageScan(ctx context.Context, sc *fleetapi.ImageScan) error {
	if err := a.checkItems("vulnerabilities in one image scan", len(sc.Vulnerabilities), a.s.ingestLimits().VulnsPerScan); err != nil {
		return err
	}
	for _, t := range []string{"image_vulns", "image_vuln_aliases"} {
		if _, err := a.s.exec(ctx, a.tx, `DELETE FROM `+t+` WHERE cluster_id = ? AND digest = ?`, a.cluster, sc.Digest); err != nil {
			return err
		}
	}
	if _, err := a.s.exec(ctx, a.tx, `INSERT INTO image_scans (cluster_id, digest, ref, db_stamp, scanned_at, error) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (cluster_id, digest) DO UPDATE SET ref = excluded.ref, db_stamp = excluded.db_stamp, scanned_at = excluded.scanned_at, error = excluded.error`,
		a.cluster, sc.Digest, sc.Ref, sc.DBStamp, ms(sc.ScannedAt), sc.Error); err != nil {
		return err
	}
	var vulns, aliases [][]any
	seenV, seenA := map[string]bool{}, map[string]bool{}
	for i := range sc.Vulnerabilities {
		f := &sc.Vulnerabilities[i]
		if f.Vulnerability == nil {
			continue
		}
		v := f.Vulnerability
		k := v.ID + "\x00" + v.Package.Name + "\x00" + v.Installed
		if seenV[k] {
			continue
		}
		seenV[k] = true
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		vulns = append(vulns, []any{a.cluster, sc.Digest, v.ID, v.Package.Name, v.Installed, int(f.Severity), string(data)})
		for _, al := range append([]string{v.ID}, v.Aliases...) {
			if !seenA[al] {
				seenA[al] = true
				aliases = append(aliases, []any{a.cluster, sc.Digest, al})
			}
		}
	}
	if err := a.insertRows(ctx, `INSERT INTO image_vulns (cluster_id, digest, vuln_id, package, installed, severity, data) VALUES `, ``, 7, vulns); err != nil {
		return err
	}
	return a.insertRows(ctx, `INSERT INTO image_vuln_aliases (cluster_id, digest, alias) VALUES `, ``, 3, aliases)
}

func (a *applier) admission(ctx context.Context, evs []fleetapi.AdmissionEvent) error {
	var rows [][]any
	for i, e := range evs {
		id := e.UID
		if id == "" {
			// Replays are rejected by Seq before reaching here, so the
			// envelope position is a stable key.
			id = fmt.Sprintf("seq-%d-%d", a.seq, i)
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		rows = append(rows, []any{a.cluster, id, ms(e.Time), e.Operation, e.Decision, b2i(e.BreakGlass), string(data)})
	}
	return a.insertRows(ctx, `INSERT INTO admission_events (cluster_id, id, time, operation, decision, break_glass, data) VALUES `,
		` ON CONFLICT (cluster_id, id) DO NOTHING`, 7, rows)
}

func (s *sqlStore) Heartbeat(ctx context.Context, agentID string, hb fleetapi.Heartbeat, now time.Time) error {
	if s.seen != nil && s.seen.record(agentID, hb, ms(now)) {
		return nil // contact only: written behind (heartbeat.go)
	}
	if s.hbs != nil {
		// The batcher remembers what it applied (seenCache.appliedBatch).
		return s.hbs.submit(&hbItem{ctx: ctx, agentID: agentID, hb: hb, now: now})
	}
	var out heartbeatOutcome
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.heartbeatIn(ctx, tx, agentID, hb, now)
		return err
	})
	if err == nil && s.seen != nil {
		s.seen.applied(agentID, hb, out, ms(now))
	}
	return err
}

// heartbeatOutcome is what applying a heartbeat found: the agent's
// cluster, whether the heartbeat counted as contact, and the agent's row
// as it read it (what later heartbeats are coalesced against).
type heartbeatOutcome struct {
	cluster             string
	contact             bool
	lastSeq             uint64
	created, lastReport int64
}

// heartbeatIn applies a heartbeat in tx.
func (s *sqlStore) heartbeatIn(ctx context.Context, tx *sql.Tx, agentID string, hb fleetapi.Heartbeat, now time.Time) (heartbeatOutcome, error) {
	var clusterID string
	var lastSeq, created, lastReport int64
	err := s.queryRow(ctx, tx, `UPDATE agents SET last_seen = ? WHERE id = ? RETURNING cluster_id, last_seq, created_at, last_report`, ms(now), agentID).
		Scan(&clusterID, &lastSeq, &created, &lastReport)
	if errors.Is(err, sql.ErrNoRows) {
		return heartbeatOutcome{}, fmt.Errorf("agent %s: %w", agentID, ErrNotFound)
	}
	if err != nil {
		return heartbeatOutcome{}, fmt.Errorf("heartbeat of agent %s: %w", agentID, err)
	}
	out := judgeHeartbeat(hb, ms(now), clusterID, lastSeq, created, lastReport)
	q := `UPDATE clusters SET last_seen = ?, pending = ?, dropped = CASE WHEN dropped < ? THEN ? ELSE dropped END WHERE id = ?`
	args := []any{ms(now), int64(hb.Pending), int64(hb.Dropped), int64(hb.Dropped), clusterID}
	if !out.contact {
		q = `UPDATE clusters SET pending = ?, dropped = CASE WHEN dropped < ? THEN ? ELSE dropped END WHERE id = ?`
		args = args[1:]
	}
	if _, err := s.exec(ctx, tx, q, args...); err != nil {
		return heartbeatOutcome{}, fmt.Errorf("heartbeat of cluster %s: %w", clusterID, err)
	}
	return out, nil
}

// judgeHeartbeat is what a heartbeat at now (ms) means against its
// agent's row as read (cluster, last applied Seq, times of enrolment and
// of the last report, ms).
//
// An agent that says it has numbered fewer reports than the hub has
// applied from it will see its next reports taken for replays: its data
// is frozen (a forged report ran the Seq ahead). One whose oldest queued
// report is beyond MaxSeqAdvance will see them all refused. Either way
// its heartbeats do not count as contact, so the cluster turns stale and
// offline instead of looking online. LastSeq 0 is an agent that reports
// no number (or none yet). An agent with reports queued and none applied
// for StuckAfter (since enrolment if never) is not getting its data
// through, whatever the reason: the same.
func judgeHeartbeat(hb fleetapi.Heartbeat, now int64, clusterID string, lastSeq, created, lastReport int64) heartbeatOutcome {
	stuck := hb.Pending > 0 && now-max(created, lastReport) > StuckAfter.Milliseconds()
	out := heartbeatOutcome{cluster: clusterID, contact: true, lastSeq: uint64(max(lastSeq, 0)), created: created, lastReport: lastReport}
	if stuck || (hb.LastSeq > 0 && (hb.LastSeq < uint64(lastSeq) || seqRefused(hb, uint64(lastSeq)))) {
		out.contact = false
	}
	return out
}

// seqRefused: the oldest report the agent has queued (by its heartbeat) is
// further beyond last than MaxSeqAdvance, so Ingest refuses it.
func seqRefused(hb fleetapi.Heartbeat, last uint64) bool {
	if hb.Pending == 0 || hb.Pending > hb.LastSeq {
		return false
	}
	oldest := hb.LastSeq - hb.Pending + 1
	return oldest > last && oldest-last > MaxSeqAdvance
}
