package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// newHubProfilesCommand prints a cluster's learned runtime profiles as the
// hub's API exports them (what netpol generate --from-observed reads).
func newHubProfilesCommand(s *streams, open hubOpener) *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:   "profiles --cluster NAME|ID",
		Short: "Export a cluster's learned runtime workload profiles (JSON)",
		Long: `Prints the learned workload profiles of one cluster (binaries executed,
peers and ports talked to, learning or locked) as JSON, the same document
as GET /api/v1/runtime/profiles?cluster=ID. Feed it to
'palisade netpol generate --from-observed' or 'palisade netpol diff --observed'.`,
		Example: `  palisade hub profiles --cluster edge-042 > profiles.json
  palisade netpol generate --from-observed profiles.json --cluster > policies.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cluster == "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--cluster is required")}
			}
			return hubAction(cmd, open, func(h *hub.Hub) error {
				x, err := h.RuntimeProfilesExport(cmd.Context(), cluster)
				if errors.Is(err, store.ErrNotFound) {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("no cluster %q", cluster)}
				}
				if err != nil {
					return err
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(x)
			})
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster name or ID")
	return cmd
}
