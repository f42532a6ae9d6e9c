package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/buildinfo"
)

func newVersionCommand(s *streams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get()
			switch g.output {
			case "json":
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(s.out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(info)
				fmt.Fprint(s.out, string(b))
			case "table", "":
				fmt.Fprintf(s.out, "palisade %s\n", info.Version)
				if info.Commit != "" {
					fmt.Fprintf(s.out, "commit:   %s%s\n", info.Commit, map[bool]string{true: " (modified)"}[info.Modified])
				}
				if info.Date != "" {
					fmt.Fprintf(s.out, "built:    %s\n", info.Date)
				}
				fmt.Fprintf(s.out, "go:       %s\nplatform: %s\n", info.GoVersion, info.Platform)
			default:
				return &exitCodeError{code: exitError, err: fmt.Errorf("version supports -o table, json or yaml, not %q", g.output)}
			}
			return nil
		},
	}
}
