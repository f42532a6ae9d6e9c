package scan

import (
	"context"

	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/configscan"
	"github.com/palisade-sec/palisade/internal/finding"
)

// Cluster scans a live cluster with the same rules as Config, plus the
// cluster-level rules. A partial read (resources the identity may not
// list) is marked in the report's summary and listed in its problems.
func Cluster(ctx context.Context, client kubernetes.Interface, read cluster.ReadOptions, opts Options) (*finding.Report, *cluster.Stats, error) {
	snap, err := cluster.Read(ctx, client, read)
	if err != nil {
		return nil, nil, err
	}
	// The read already skips objects whose owner it scans (the Pods of a
	// ReplicaSet); what remains controlled, such as the Pods of a custom
	// controller, is named after its owner as in a configuration scan,
	// but only after an owner the read verified (cluster.Snapshot.Owners):
	// a claimed owner reference must not carry the owner's exemptions.
	inv := snap.Inventory
	inv.FoldOwned(snap.Owners)
	r, err := Evaluate(ctx, inv, nil, len(inv.Objects), snap.Problems, opts)
	if err != nil {
		return nil, nil, err
	}
	configscan.FoldOwned(r, inv)
	r.Summary.Partial = snap.Partial
	// Objects read from the API server are always of served kinds and
	// decode: none is "not understood"; what could not be listed at all
	// makes the report partial instead.
	r.Summary.NotUnderstood = new(int)
	return r, &snap.Stats, nil
}
