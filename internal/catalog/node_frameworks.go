package catalog

import "github.com/palisade-sec/palisade/internal/finding"

// nodeFrameworks maps the node audit checks to NSA/CISA and MITRE ATT&CK;
// their CIS sections come from the checks themselves (nodeaudit.Check.CIS),
// kept here apart so that the node audit's own files stay untouched. An
// entry for a check that no longer exists fails TestMappingsNameChecks.
func nodeFrameworks() map[string]finding.Frameworks {
	cp := []string{"network.control-plane"}
	authn := []string{"authz.authentication", "network.control-plane"}
	authz := []string{"authz.rbac", "network.control-plane"}
	audit := []string{"logging.audit"}
	tls := []string{"network.encryption", "network.control-plane"}
	etcd := []string{"network.etcd", "network.encryption"}
	secrets := []string{"network.secrets"}
	files := []string{"network.control-plane"}
	kubeconfig := []string{"network.kubeconfig"}
	worker := []string{"network.worker-segmentation"}
	return map[string]finding.Frameworks{
		"node/apiserver-anonymous-auth":                       {NSA: authn, MITRE: []string{"T1078.001", "T1133"}},
		"node/apiserver-token-auth-file":                      {NSA: authn, MITRE: []string{"T1078"}},
		"node/apiserver-kubelet-tls":                          {NSA: tls, MITRE: []string{"T1557"}},
		"node/apiserver-authorization-always-allow":           {NSA: authz, MITRE: []string{"T1078"}},
		"node/apiserver-authorization-node-rbac":              {NSA: authz},
		"node/apiserver-admission-always-admit":               {NSA: cp, MITRE: []string{"T1610"}},
		"node/apiserver-admission-node-restriction":           {NSA: cp},
		"node/apiserver-admission-pod-security":               {NSA: []string{"pod-security.enforcement"}, MITRE: []string{"T1610", "T1611"}},
		"node/apiserver-admission-defaults-disabled":          {NSA: cp},
		"node/apiserver-profiling":                            {NSA: cp, MITRE: []string{"T1613"}},
		"node/apiserver-audit-log-path":                       {NSA: audit, MITRE: []string{"T1070"}},
		"node/apiserver-audit-log-retention":                  {NSA: audit, MITRE: []string{"T1070"}},
		"node/apiserver-audit-policy":                         {NSA: audit, MITRE: []string{"T1070"}},
		"node/apiserver-encryption-provider-config":           {NSA: secrets, MITRE: []string{"T1552"}},
		"node/apiserver-encryption-providers":                 {NSA: secrets, MITRE: []string{"T1552"}},
		"node/apiserver-tls":                                  {NSA: tls, MITRE: []string{"T1557"}},
		"node/apiserver-tls-ciphers":                          {NSA: tls, MITRE: []string{"T1557"}},
		"node/apiserver-etcd-tls":                             {NSA: etcd, MITRE: []string{"T1557"}},
		"node/apiserver-service-account":                      {NSA: authn, MITRE: []string{"T1528"}},
		"node/etcd-client-tls":                                {NSA: etcd, MITRE: []string{"T1557"}},
		"node/etcd-client-cert-auth":                          {NSA: etcd, MITRE: []string{"T1552"}},
		"node/etcd-auto-tls":                                  {NSA: etcd, MITRE: []string{"T1557"}},
		"node/etcd-peer-tls":                                  {NSA: etcd, MITRE: []string{"T1557"}},
		"node/etcd-peer-client-cert-auth":                     {NSA: etcd},
		"node/etcd-peer-auto-tls":                             {NSA: etcd, MITRE: []string{"T1557"}},
		"node/etcd-unique-ca":                                 {NSA: etcd},
		"node/controller-manager-profiling":                   {NSA: cp, MITRE: []string{"T1613"}},
		"node/controller-manager-service-account-credentials": {NSA: cp},
		"node/controller-manager-service-account-keys":        {NSA: cp},
		"node/controller-manager-rotate-kubelet-server-cert":  {NSA: tls},
		"node/controller-manager-bind-address":                {NSA: cp, MITRE: []string{"T1133"}},
		"node/scheduler-profiling":                            {NSA: cp, MITRE: []string{"T1613"}},
		"node/scheduler-bind-address":                         {NSA: cp, MITRE: []string{"T1133"}},
		"node/kubelet-anonymous-auth":                         {NSA: []string{"authz.authentication", "network.worker-segmentation"}, MITRE: []string{"T1133", "T1609"}},
		"node/kubelet-authorization-mode":                     {NSA: []string{"authz.rbac", "network.worker-segmentation"}, MITRE: []string{"T1609"}},
		"node/kubelet-client-ca":                              {NSA: []string{"authz.authentication", "network.worker-segmentation"}},
		"node/kubelet-read-only-port":                         {NSA: worker, MITRE: []string{"T1613"}},
		"node/kubelet-rotate-certificates":                    {NSA: []string{"network.encryption"}},
		"node/kubelet-protect-kernel-defaults":                {NSA: worker},
		"node/file-config-permissions":                        {NSA: files},
		"node/file-config-ownership":                          {NSA: files},
		"node/file-etcd-data-dir-permissions":                 {NSA: []string{"network.etcd"}, MITRE: []string{"T1552.001"}},
		"node/file-etcd-data-dir-ownership":                   {NSA: []string{"network.etcd"}},
		"node/file-kubeconfig-permissions":                    {NSA: kubeconfig, MITRE: []string{"T1552.001"}},
		"node/file-kubeconfig-ownership":                      {NSA: kubeconfig},
		"node/file-pki-ownership":                             {NSA: files},
		"node/file-pki-cert-permissions":                      {NSA: files},
		"node/file-pki-key-permissions":                       {NSA: files, MITRE: []string{"T1552.004"}},
		"node/file-security-config":                           {NSA: []string{"network.secrets", "logging.audit"}, MITRE: []string{"T1552.001"}},
	}
}
