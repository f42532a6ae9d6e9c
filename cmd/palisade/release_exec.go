package main

import (
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
)

// execOutput runs a command and returns its trimmed standard output.
func execOutput(cmd *cobra.Command, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(cmd.Context(), name, args...).Output()
	return strings.TrimSpace(string(out)), err
}
