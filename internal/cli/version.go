package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/buildinfo"
)

// NewVersionCommand is the version command of the binary named program.
func NewVersionCommand(s *Streams, g *Global, program string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get()
			switch g.Output {
			case "json":
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(s.Out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(info)
				fmt.Fprint(s.Out, string(b))
			case "table", "":
				fmt.Fprintf(s.Out, "%s %s\n", program, info.Version)
				if info.Commit != "" {
					fmt.Fprintf(s.Out, "commit:   %s%s\n", info.Commit, map[bool]string{true: " (modified)"}[info.Modified])
				}
				if info.Date != "" {
					fmt.Fprintf(s.Out, "built:    %s\n", info.Date)
				}
				fmt.Fprintf(s.Out, "go:       %s\nplatform: %s\n", info.GoVersion, info.Platform)
			default:
				return &ExitError{Code: CodeError, Err: fmt.Errorf("version supports -o table, json or yaml, not %q", g.Output)}
			}
			return nil
		},
	}
}
