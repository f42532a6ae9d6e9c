package scan

import (
	"context"

	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/cluster"
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
	r, err := Evaluate(ctx, snap.Inventory, nil, len(snap.Inventory.Objects), snap.Problems, opts)
	if err != nil {
		return nil, nil, err
	}
	r.Summary.Partial = snap.Partial
	return r, &snap.Stats, nil
}
