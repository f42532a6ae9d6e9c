package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// maxBundleFile bounds what `hub bundle publish` reads: the hub holds a
// bundle's content as one database value.
const maxBundleFile = 1 << 30

func newHubBundleCommand(s *streams, open hubOpener) *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Publish signed bundles (policies, allow-lists, rules, admission policies, vulnerability databases) to agents"}
	var kind, name, cluster, file, signKey string
	publish := &cobra.Command{
		Use:   "publish --kind KIND --name NAME -f FILE",
		Short: "Sign and publish a bundle, fleet-wide or for one cluster",
		Long: `Signs FILE with the hub's bundle key and publishes it as the next version of
the bundle KIND/NAME. Agents fetch it within minutes, verify it, cache it and
keep using it while disconnected (docs/fleet.md, "Bundles").

Kinds: policy (a Palisade policy file), allowlist (registry globs, one a
line), rules (a policy file carrying custom rules), admission (an
AdmissionPolicy for each cluster's webhook; keys inline; --sign-key signs it
with a publisher key agents can require), vulndb (a
'palisade db export' bundle), verification (an ImageVerificationPolicy the
agents verify every running image with; keys and trustedRoot inline,
docs/supply-chain.md). --cluster limits it to one cluster (name or
ID); a cluster's own bundle wins over the fleet-wide one of the same name.`,
		Example: `  palisade hub bundle publish --kind admission --name fleet -f admission-policy.yaml
  palisade hub bundle publish --kind vulndb --name osv -f osv.bundle --cluster edge-042`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind == "" || name == "" || file == "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--kind, --name and -f are required")}
			}
			content, err := readBundleFile(s, file)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if signKey != "" {
				if kind != fleetapi.BundleAdmission {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--sign-key signs admission bundles (vulndb bundles are signed by 'palisade db export --key')")}
				}
				raw, err := os.ReadFile(signKey)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				key, err := vulndb.ParsePrivateKey(raw)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--sign-key %s: %w", signKey, err)}
				}
				content = fleetapi.SignAdmissionPolicy(content, key)
			}
			h, st, err := open(cmd, hub.Config{})
			if err != nil {
				return err
			}
			defer st.Close()
			clusterID := ""
			if cluster != "" {
				cs, err := st.ListClusters(cmd.Context())
				if err != nil {
					return err
				}
				for _, c := range cs {
					if c.ID == cluster || c.Name == cluster {
						clusterID = c.ID
					}
				}
				if clusterID == "" {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--cluster %q: no such cluster", cluster)}
				}
			}
			b, err := h.PublishBundle(cmd.Context(), kind, name, clusterID, content)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("bundle %s/%s from %s: %w", kind, name, file, err)}
			}
			scope := "every cluster"
			if clusterID != "" {
				scope = "cluster " + clusterID
			}
			fmt.Fprintf(s.Out, "published %s/%s version %d for %s (%d bytes, sha256:%s)\n", b.Kind, b.Name, b.Version, scope, len(content), b.SHA256)
			return nil
		},
	}
	publish.Flags().StringVar(&kind, "kind", "", "policy, allowlist, rules, admission, vulndb or verification")
	publish.Flags().StringVar(&name, "name", "", "bundle name (letters, digits, '.', '_', '-')")
	publish.Flags().StringVar(&cluster, "cluster", "", "only this cluster (name or ID); default every cluster")
	publish.Flags().StringVarP(&file, "filename", "f", "", "content file, - for standard input")
	publish.Flags().StringVar(&signKey, "sign-key", "", "admission bundles: sign the policy with this publisher key ('palisade db keygen'), which agents check with --admission-policy-public-key")
	cmd.AddCommand(publish)
	return cmd
}

func readBundleFile(s *streams, file string) ([]byte, error) {
	var r io.Reader = s.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBundleFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(data) > maxBundleFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxBundleFile)
	}
	return data, nil
}
