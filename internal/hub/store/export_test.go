package store

import (
	"context"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// GroupItem is one report batch (Envs) or heartbeat (HB) of CommitGroup.
type GroupItem struct {
	AgentID string
	Envs    []*fleetapi.Envelope
	HB      *fleetapi.Heartbeat
}

// CommitGroup applies items as one group commit (one transaction, a
// savepoint each), as a committer does with the reports that queued
// together, and returns each item's outcome.
func CommitGroup(s Store, now time.Time, items []GroupItem) ([][]bool, []error) {
	var ss *sqlStore
	switch b := s.(type) {
	case *SQLite:
		ss = b.sqlStore
	case *Postgres:
		ss = b.sqlStore
	}
	group := make([]*commitItem, len(items))
	for i, in := range items {
		it := &commitItem{ctx: context.Background(), agentID: in.AgentID, now: now, envs: in.Envs, hb: in.HB, work: 1, done: make(chan struct{})}
		for _, env := range in.Envs {
			var p *preparedFindings
			if env.Kind == fleetapi.KindFindings {
				p, _ = prepareFindings(env.Findings)
			}
			it.prep = append(it.prep, p)
		}
		group[i] = it
	}
	ss.commit.run(group)
	applied := make([][]bool, len(items))
	errs := make([]error, len(items))
	for i, it := range group {
		<-it.done
		applied[i], errs[i] = it.applied, it.err
	}
	return applied, errs
}
