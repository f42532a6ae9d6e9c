package main

import (
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cli/dbcmd"
)

// streams are the command's standard streams (internal/cli's).
type streams = cli.Streams

// globalOptions are the kubectl-style flags every command accepts: the
// output flags shared with palisade-scan, and the cluster's.
type globalOptions struct {
	cli.Global
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
}

// newRoot builds the command tree and returns its global options too.
func newRoot(s *streams) (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := cli.NewRoot(s, &g.Global, "palisade", "Security for Kubernetes fleets, from cloud clusters to the edge",
		`Palisade finds insecure workload configuration, vulnerable images and risky
cluster settings before they reach production, from CI pipelines to
thousands of small edge clusters.

Exit codes: 0 no findings at or above --fail-on, 1 findings at or above
--fail-on, 2 usage or input error (a mistyped command included), or
nothing could be checked.`)
	pf := root.PersistentFlags()
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&g.context, "context", "", "kubeconfig context to use")
	pf.StringVarP(&g.namespace, "namespace", "n", "", "namespace to scan, or for manifests without one")
	pf.BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "scan all namespaces")

	root.AddCommand(
		newScanCommand(s, g),
		newRulesCommand(s, g),
		cli.NewVersionCommand(s, &g.Global, "palisade"),
		dbcmd.New(s, &g.Global, "palisade"),
		newNetpolCommand(s, g),
		newAdmissionCommand(s, g),
		newNodeCommand(s, g),
		newClusterCommand(s, g),
		newAuditlogCommand(s, g),
		newHubCommand(s, g), newAgentCommand(s, g),
		newRBACCommand(s, g),
		newReleaseCommand(s, g),
		newSBOMCommand(s, g),
		newVerifyCommand(s, g),
		newRuntimeCommand(s, g),
	)
	cli.Finish(root)
	return root, g
}
