package netpol

import (
	"context"
	"io"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

// LoadInventory reads manifests (files, directories, "-" for stdin) into an
// inventory, with the problems of reading and decoding them.
func LoadInventory(ctx context.Context, paths []string, stdin io.Reader, defaultNamespace string) (*workload.Inventory, []finding.Problem, error) {
	set, err := manifest.Load(ctx, paths, manifest.Options{Stdin: stdin, SkipDockerfiles: true})
	if err != nil {
		return nil, nil, err
	}
	strictProbs := dropLooseNetworkPolicies(set, defaultNamespace)
	inv, probs := workload.FromManifests(set, defaultNamespace)
	probs = append(strictProbs, probs...)
	return inv, append(set.Problems, probs...), nil
}

// Load reads manifests and builds the model; problems of the input and of
// its policies are returned together.
func Load(ctx context.Context, paths []string, stdin io.Reader, defaultNamespace string) (*Model, []finding.Problem, error) {
	inv, probs, err := LoadInventory(ctx, paths, stdin, defaultNamespace)
	if err != nil {
		return nil, nil, err
	}
	b := FromInventory(inv)
	return b.Model, append(probs, b.Problems...), nil
}
