package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Prepared statements on SQLite. The driver prepares, runs and finalizes
// every statement it is given as text: parsing and compiling the
// multi-row INSERTs of a delta's findings and counters was a tenth of a
// SQLite hub's CPU under load (issue #17). The writer's statements of the
// ingest path are therefore prepared once, when the store opens, on the
// writer's one connection (a statement cannot be prepared later, while a
// transaction holds that connection), and run inside each transaction
// with Tx.StmtContext, which reuses the connection's prepared statement.
// A statement over a list of items (rows, keys) is prepared for a few
// list lengths, preparedChunks, and a longer list runs as chunks of those
// lengths. PostgreSQL needs none of this: pgx prepares and caches each
// statement text per connection, and its statements over lists take
// arrays (one text whatever the length).

// preparedChunks are the list lengths prepared, longest first; a list is
// split greedily (70 rows: 64 + 4 + 2).
var preparedChunks = []int{64, 32, 16, 8, 4, 2, 1}

// listStatement is a statement over a list: prefix, the item repeated
// (", " between), suffix; width is the parameters of one item.
type listStatement struct {
	prefix, item, suffix string
	width                int
}

func (l listStatement) text(n int) string {
	var b strings.Builder
	b.Grow(len(l.prefix) + n*(len(l.item)+2) + len(l.suffix))
	b.WriteString(l.prefix)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.item)
	}
	b.WriteString(l.suffix)
	return b.String()
}

// chunks calls fn with the text of each chunk of a list of n items and
// the chunk's bounds: the prepared lengths when l is prepared, else
// chunks as long as the parameter limit allows with fixed parameters
// besides the items'.
func (s *sqlStore) chunks(l listStatement, fixed, n int, fn func(text string, start, end int) error) error {
	if s.prepared[l.text(preparedChunks[0])] != nil {
		for start := 0; start < n; {
			size := 1
			for _, c := range preparedChunks {
				if c <= n-start {
					size = c
					break
				}
			}
			if err := fn(l.text(size), start, start+size); err != nil {
				return err
			}
			start += size
		}
		return nil
	}
	per := max(1, (s.d.maxParams-fixed)/l.width)
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		if err := fn(l.text(end-start), start, end); err != nil {
			return err
		}
	}
	return nil
}

// ingestStatements are the writer's statements prepared on SQLite: those
// of every findings report, and the lists of its rows, keys and counters.
func ingestStatements() []string {
	texts := []string{
		sqliteClaimSQL, clusterGenSQL, agentSeqSQL, chargeFullSQL, chargeDeltaSQL, ruleCountsCleanupSQL, sevCountsClearSQL, ruleCountsClearSQL,
		`SELECT object_key, fkey, dhash, last_seen FROM findings WHERE cluster_id = ?`,
		digestsReadSQL, digestsClearSQL,
	}
	lists := []listStatement{
		findingsUpsertList, storedScopeList, deleteFindingsList, digestsUpsertList, digestsDeleteList,
		{prefix: sevCountsHead, item: "(" + placeholders(3) + ")", suffix: sevCountsTail, width: 3},
		{prefix: ruleCountsHead, item: "(" + placeholders(5) + ")", suffix: ruleCountsTail, width: 5},
	}
	for _, l := range lists {
		for _, n := range preparedChunks {
			texts = append(texts, l.text(n))
		}
	}
	return texts
}

// prepareIngest prepares ingestStatements on db (the SQLite writer, before
// any transaction).
func (s *sqlStore) prepareIngest(ctx context.Context, db *sql.DB) error {
	s.prepared = map[string]*sql.Stmt{}
	for _, q := range ingestStatements() {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %.60q: %w", q, err)
		}
		s.prepared[q] = st
	}
	return nil
}

// closePrepared closes the prepared statements.
func (s *sqlStore) closePrepared() error {
	var err error
	for _, st := range s.prepared {
		err = errors.Join(err, st.Close())
	}
	s.prepared = nil
	return err
}

// preparedIn is the prepared statement of query in q when there is one
// (q a transaction of the writer), else nil.
func (s *sqlStore) preparedIn(ctx context.Context, q execer, query string) *sql.Stmt {
	st := s.prepared[query]
	if st == nil {
		return nil
	}
	tx, ok := q.(*sql.Tx)
	if !ok {
		return nil
	}
	return tx.StmtContext(ctx, st)
}
