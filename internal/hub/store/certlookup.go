package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Certificate lookups in batches (PostgreSQL).
//
// Every agent request reads its certificate (revoked? whose?) before
// anything else, 700 a second in a fleet of 10,000 clusters heartbeating
// every 15 s. One query each, on a replica short of CPU, let thousands of
// requests wait for a connection (5,270 in one goroutine dump), each
// holding its memory, until the hub passed its memory limit. So the
// lookups waiting at a moment go to the database together: a few
// goroutines each take every lookup queued (up to maxCertBatch) and read
// them in one query. Each lookup still reads the database after its
// request arrived, so a revocation takes effect for the next request as
// before; only the round trips are shared.

// maxCertBatch bounds the serials of one query.
const maxCertBatch = 512

type certRequest struct {
	serial string
	c      Certificate
	err    error
	done   chan struct{}
}

type certLookups struct {
	s     *sqlStore
	queue chan *certRequest
	stop  chan struct{}
	wg    sync.WaitGroup
	// queries counts the queries run (tests).
	queries atomic.Int64
}

// startCertLookups starts n lookup goroutines (one connection of
// certDB each).
func (s *sqlStore) startCertLookups(n int) {
	l := &certLookups{s: s, queue: make(chan *certRequest, 4096), stop: make(chan struct{})}
	s.certs = l
	for range n {
		l.wg.Go(l.loop)
	}
}

func (s *sqlStore) stopCertLookups() {
	if s.certs == nil {
		return
	}
	close(s.certs.stop)
	s.certs.wg.Wait()
	s.certs = nil
}

var errStoreClosed = errors.New("store closed")

// get queues a lookup and waits for it (or ctx, or Close).
func (l *certLookups) get(ctx context.Context, serial string) (Certificate, error) {
	r := &certRequest{serial: serial, done: make(chan struct{})}
	select {
	case l.queue <- r:
	case <-ctx.Done():
		return Certificate{}, ctx.Err()
	case <-l.stop:
		return Certificate{}, errStoreClosed
	}
	select {
	case <-r.done:
		return r.c, r.err
	case <-ctx.Done():
		return Certificate{}, ctx.Err()
	case <-l.stop:
		return Certificate{}, errStoreClosed
	}
}

func (l *certLookups) loop() {
	for {
		var batch []*certRequest
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		case <-l.stop:
			return
		}
	more:
		for len(batch) < maxCertBatch {
			select {
			case r := <-l.queue:
				batch = append(batch, r)
			default:
				break more
			}
		}
		l.lookup(batch)
	}
}

// lookup answers a batch with one query; a failed query fails each
// lookup of it (the requests answer 500/503, the agents retry).
func (l *certLookups) lookup(batch []*certRequest) {
	l.queries.Add(1)
	serials := make([]string, 0, len(batch))
	for _, r := range batch {
		serials = append(serials, r.serial)
	}
	found, err := l.s.readCertificates(context.Background(), serials)
	for _, r := range batch {
		switch c, ok := found[r.serial]; {
		case err != nil:
			r.err = fmt.Errorf("certificate %s: %w", r.serial, err)
		case !ok:
			r.err = fmt.Errorf("certificate %s: %w", r.serial, ErrNotFound)
		default:
			r.c = c
		}
		close(r.done)
	}
}

// readCertificates reads the certificates of serials in one query, by
// serial.
func (s *sqlStore) readCertificates(ctx context.Context, serials []string) (map[string]Certificate, error) {
	rows, err := s.certDB.QueryContext(ctx, `SELECT c.serial, c.cluster_id, c.agent_id, c.not_before, c.not_after, c.revoked_at, k.revoked_at
		FROM certificates c JOIN clusters k ON k.id = c.cluster_id WHERE c.serial = ANY($1::text[])`, serials)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]Certificate, len(serials))
	for rows.Next() {
		var c Certificate
		var nb, na, rev, crev int64
		if err := rows.Scan(&c.Serial, &c.ClusterID, &c.AgentID, &nb, &na, &rev, &crev); err != nil {
			return nil, err
		}
		c.NotBefore, c.NotAfter, c.RevokedAt, c.ClusterRevokedAt = fromMS(nb), fromMS(na), fromMS(rev), fromMS(crev)
		out[c.Serial] = c
	}
	return out, rows.Err()
}
