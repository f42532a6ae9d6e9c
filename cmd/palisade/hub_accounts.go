package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/hub"
)

// Account commands run against the hub's database directly (as 'hub user
// create' does), on the hub's host or in its container; the audit trail
// names them "cli". Each change is also possible through the API and the
// dashboard's admin page.

// writeListing prints items as JSON or YAML under key, or as the table
// that table writes.
func writeListing(w io.Writer, format, key string, items any, table func(*tabwriter.Writer)) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{key: items})
	case "yaml":
		b, err := yaml.Marshal(map[string]any{key: items})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	}
	return &exitCodeError{Code: exitError, Err: fmt.Errorf("output %q: want table, json or yaml", format)}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// readSecretLine reads one line (a password) from in.
func readSecretLine(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", &exitCodeError{Code: exitError, Err: fmt.Errorf("read password from stdin: %w", err)}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// hubAction runs do with an opened hub; errors are exit 2.
func hubAction(cmd *cobra.Command, open hubOpener, do func(h *hub.Hub) error) error {
	h, st, err := open(cmd, hub.Config{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := do(h); err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	return nil
}

// addUserAdminCommands adds list, disable, enable, delete, passwd, role
// and logout to 'hub user'.
func addUserAdminCommands(cmd *cobra.Command, s *streams, g *globalOptions, open hubOpener) {
	list := &cobra.Command{
		Use:   "list",
		Short: "List local accounts: role, state, live sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return hubAction(cmd, open, func(h *hub.Hub) error {
				us, err := h.ListUsers(cmd.Context())
				if err != nil {
					return err
				}
				type row struct {
					Name       string    `json:"name"`
					Role       string    `json:"role"`
					Disabled   bool      `json:"disabled"`
					DisabledAt string    `json:"disabledAt,omitempty"`
					Sessions   int       `json:"sessions"`
					CreatedAt  time.Time `json:"createdAt"`
				}
				rows := make([]row, 0, len(us))
				for _, u := range us {
					r := row{Name: u.Name, Role: u.Role, Disabled: !u.DisabledAt.IsZero(), Sessions: u.Sessions, CreatedAt: u.CreatedAt}
					if r.Disabled {
						r.DisabledAt = stamp(u.DisabledAt)
					}
					rows = append(rows, r)
				}
				return writeListing(s.Out, g.Output, "users", rows, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tSESSIONS\tCREATED")
					for _, r := range rows {
						state := "enabled"
						if r.Disabled {
							state = "disabled since " + r.DisabledAt
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Name, r.Role, state, r.Sessions, stamp(r.CreatedAt))
					}
				})
			})
		},
	}
	simple := func(use, short string, do func(h *hub.Hub, cmd *cobra.Command, name string) (int, error), done string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return hubAction(cmd, open, func(h *hub.Hub) error {
					n, err := do(h, cmd, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(s.Err, "user %s %s; %d session(s) ended\n", args[0], done, n)
					return nil
				})
			},
		}
	}
	disable := simple("disable", "Disable an account: it cannot sign in and its sessions end", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		return h.SetUserDisabled(cmd.Context(), name, true)
	}, "disabled")
	enable := simple("enable", "Enable a disabled account", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		return h.SetUserDisabled(cmd.Context(), name, false)
	}, "enabled")
	del := simple("delete", "Delete an account and end its sessions", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		return h.DeleteUser(cmd.Context(), name)
	}, "deleted")
	logout := simple("logout", "End every session of an account (sign it out everywhere)", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		return h.EndSessions(cmd.Context(), name)
	}, "signed out")
	passwd := simple("passwd", "Set an account's password (read from standard input) and end its sessions", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		pw, err := readSecretLine(s.In)
		if err != nil {
			return 0, err
		}
		return h.SetPassword(cmd.Context(), name, pw)
	}, "has a new password")
	passwd.Example = `  printf '%s\n' "$NEW_PASSWORD" | palisade hub user passwd alice`
	var role string
	setRole := simple("role", "Set an account's role (viewer or admin); a change ends its sessions", func(h *hub.Hub, cmd *cobra.Command, name string) (int, error) {
		return h.SetRole(cmd.Context(), name, role)
	}, "has a new role")
	setRole.Flags().StringVar(&role, "role", "", "viewer or admin")
	_ = setRole.MarkFlagRequired("role")
	cmd.AddCommand(list, disable, enable, del, logout, passwd, setRole)
}

// addTokenAdminCommands adds list and revoke to 'hub token'.
func addTokenAdminCommands(cmd *cobra.Command, s *streams, g *globalOptions, open hubOpener) {
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens with their expiry, revocation and last use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return hubAction(cmd, open, func(h *hub.Hub) error {
				ts, err := h.ListAPITokens(cmd.Context())
				if err != nil {
					return err
				}
				type row struct {
					ID         string    `json:"id"`
					Name       string    `json:"name"`
					Role       string    `json:"role"`
					State      string    `json:"state"`
					CreatedAt  time.Time `json:"createdAt"`
					ExpiresAt  string    `json:"expiresAt"`
					RevokedAt  string    `json:"revokedAt,omitempty"`
					LastUsedAt string    `json:"lastUsedAt"`
				}
				rows := make([]row, 0, len(ts))
				now := time.Now()
				for _, t := range ts {
					r := row{ID: t.ID, Name: t.Name, Role: t.Role, State: "active", CreatedAt: t.CreatedAt, ExpiresAt: "never", LastUsedAt: "never"}
					if !t.ExpiresAt.IsZero() {
						r.ExpiresAt = stamp(t.ExpiresAt)
						if !now.Before(t.ExpiresAt) {
							r.State = "expired"
						}
					}
					if !t.RevokedAt.IsZero() {
						r.State, r.RevokedAt = "revoked", stamp(t.RevokedAt)
					}
					if !t.LastUsedAt.IsZero() {
						r.LastUsedAt = stamp(t.LastUsedAt)
					}
					rows = append(rows, r)
				}
				return writeListing(s.Out, g.Output, "tokens", rows, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tNAME\tROLE\tSTATE\tEXPIRES\tLAST USED")
					for _, r := range rows {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Role, r.State, r.ExpiresAt, r.LastUsedAt)
					}
				})
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke an API token by ID, or every token with that name",
		Example: `  palisade hub token list
  palisade hub token revoke 3f9a1c2b7d4e5f60`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return hubAction(cmd, open, func(h *hub.Hub) error {
				n, err := h.RevokeAPIToken(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "%d API token(s) revoked\n", n)
				return nil
			})
		},
	}
	cmd.AddCommand(list, revoke)
}
