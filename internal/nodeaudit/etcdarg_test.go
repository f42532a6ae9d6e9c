package nodeaudit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEtcdConfigAndArgs: K3s and RKE2 start etcd with a configuration file
// they write from their settings and the etcd-arg items (k3s-io/k3s
// ETCDConfig.ToConfigFile): "name=value" sets the top-level key name, a
// later item winning; "+=" and "-=" are not resolved (the key "name+" is
// written, and etcd ignores it); and etcd takes TLS settings from a
// configuration file only inside client-transport-security and
// peer-transport-security, so a top-level client-cert-auth changes
// nothing. The file on disk, when present, is what etcd runs with; without
// it the audit rebuilds it from K3s's defaults and etcd-arg.
func TestEtcdConfigAndArgs(t *testing.T) {
	const k3sEtcdConfig = k3sEtcdDir + "/config"
	const rke2EtcdConfig = rke2EtcdDir + "/config"
	k3sArgs := func(items ...string) string {
		return "etcd-arg:\n  - \"" + strings.Join(items, "\"\n  - \"") + "\"\n"
	}
	tests := []struct {
		name   string
		tree   string
		remove []string          // host files removed
		files  map[string]string // host files written
		append map[string]string // text appended to host files
		check  string
		fails  bool
		file   string // the failure names this file (substring)
		warn   string // a warning says this (substring)
	}{
		{name: "k3s: defaults without a configuration file", tree: "k3s", remove: []string{k3sEtcdConfig}, check: "node/etcd-client-tls"},
		{name: "k3s: etcd-arg serves clients over plain HTTP", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("listen-client-urls=http://0.0.0.0:2379")},
			check:  "node/etcd-client-tls", fails: true, file: "k3s config"},
		{name: "k3s: a later etcd-arg item wins", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("listen-client-urls=http://0.0.0.0:2379", "--listen-client-urls=https://127.0.0.1:2379")},
			check:  "node/etcd-client-tls"},
		{name: "k3s: etcd-arg += is written as a key etcd ignores", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("listen-client-urls+=http://0.0.0.0:2379")},
			check:  "node/etcd-client-tls", warn: `"listen-client-urls+"`},
		{name: "k3s: etcd-arg -= is written as a key etcd ignores", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("listen-client-urls-=http://0.0.0.0:2379")},
			check:  "node/etcd-client-tls", warn: `"listen-client-urls-"`},
		{name: "k3s: etcd-arg client-cert-auth=false is a top-level key etcd ignores", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("client-cert-auth=false")},
			check:  "node/etcd-client-cert-auth", warn: "only from client-transport-security"},
		{name: "k3s: etcd-arg auto-tls=true is ignored too", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("--auto-tls=true", "peer-auto-tls=true")},
			check:  "node/etcd-peer-auto-tls", warn: "only from peer-transport-security"},
		{name: "k3s: etcd-arg without a value is dropped", tree: "k3s", remove: []string{k3sEtcdConfig},
			append: map[string]string{k3sConfig: k3sArgs("experimental-initial-corrupt-check")},
			check:  "node/etcd-client-tls", warn: "has no \"=\""},
		{name: "k3s: the configuration file on disk decides", tree: "k3s",
			append: map[string]string{k3sConfig: k3sArgs("listen-client-urls=http://0.0.0.0:2379")},
			check:  "node/etcd-client-tls"},
		{name: "k3s: file with client-cert-auth off in its section", tree: "k3s",
			files: map[string]string{k3sEtcdConfig: "listen-client-urls: https://127.0.0.1:2379\nclient-transport-security:\n  cert-file: /c.crt\n  key-file: /c.key\n  client-cert-auth: false\n"},
			check: "node/etcd-client-cert-auth", fails: true, file: k3sEtcdConfig},
		{name: "k3s: file with a top-level client-cert-auth beside its section", tree: "k3s",
			files: map[string]string{k3sEtcdConfig: "client-cert-auth: false\nclient-transport-security:\n  cert-file: /c.crt\n  key-file: /c.key\n  client-cert-auth: true\n"},
			check: "node/etcd-client-cert-auth", warn: `"client-cert-auth" is ignored`},
		{name: "rke2: file written from an etcd-arg += item", tree: "rke2",
			append: map[string]string{rke2EtcdConfig: "listen-client-urls+: http://0.0.0.0:2379\n"},
			check:  "node/etcd-client-tls", warn: `"listen-client-urls+"`},
		{name: "rke2: file written from etcd-arg listen-client-urls=http://", tree: "rke2",
			append: map[string]string{rke2EtcdConfig: "listen-client-urls: http://0.0.0.0:2379\n"},
			check:  "node/etcd-client-tls", fails: true, file: rke2EtcdConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", tc.tree, "good"), true)
			for _, p := range tc.remove {
				if err := os.Remove(filepath.Join(root, p)); err != nil {
					t.Fatal(err)
				}
			}
			for p, data := range tc.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			for p, extra := range tc.append {
				p = filepath.Join(root, p)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(extra, "listen-client-urls: http://0.0.0.0:2379\n") {
					// Replace the key, as RKE2 rewrites it.
					data = []byte(strings.Replace(string(data), "listen-client-urls:", "old-listen-client-urls:", 1))
				}
				writeFile(t, p, string(data)+extra)
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			o := outcomeOf(t, Evaluate(n, Checks()), tc.check)
			switch {
			case tc.fails && o.Status != Fail:
				t.Fatalf("%s is %s, want fail (%+v)", tc.check, o.Status, o.Results)
			case !tc.fails && o.Status != Pass:
				t.Fatalf("%s is %s, want pass (%+v)", tc.check, o.Status, o.Results)
			case tc.fails && !strings.Contains(o.Results[0].File, tc.file):
				t.Errorf("finding names %q, want %s", o.Results[0].File, tc.file)
			}
			var warnings []string
			for _, p := range n.Problems {
				warnings = append(warnings, p.Message)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tc.warn) {
				t.Errorf("no warning saying %q; problems: %q", tc.warn, warnings)
			}
		})
	}
}
