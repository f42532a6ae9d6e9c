package hardening

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps each rule of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules. It is
// kept apart from the rule definitions so that adding rules and mapping
// them never edit the same lines.
func Frameworks() map[string]finding.Frameworks {
	enforce := []string{"pod-security.enforcement"}
	images := []string{"pod-security.secure-images"}
	resources := []string{"network.resource-policies"}
	return map[string]finding.Frameworks{
		"hardening/read-only-root-fs":         {NSA: []string{"pod-security.immutable-fs"}},
		"hardening/dangerous-capabilities":    {CIS: []string{"5.2.8", "5.2.9"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/capabilities"}},
		"hardening/net-raw-not-dropped":       {CIS: []string{"5.2.8"}, NSA: enforce, MITRE: []string{"T1557"}},
		"hardening/default-capabilities-kept": {CIS: []string{"5.2.9"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"restricted/capabilities"}},
		"hardening/no-linux-hardening":        {CIS: []string{"5.6.2"}, NSA: enforce, MITRE: []string{"T1611"}},
		"hardening/run-as-root":               {CIS: []string{"5.2.7"}, NSA: []string{"pod-security.non-root"}, PSS: []string{"restricted/running-as-non-root"}},
		"hardening/image-not-pinned":          {NSA: images, MITRE: []string{"T1525", "T1204.003"}},
		"hardening/latest-tag":                {NSA: images, MITRE: []string{"T1204.003"}},
		"hardening/cpu-requests":              {NSA: resources},
		"hardening/cpu-limits":                {NSA: resources, MITRE: []string{"T1496", "T1499"}},
		"hardening/memory-requests":           {NSA: resources},
		"hardening/memory-limits":             {NSA: resources, MITRE: []string{"T1499"}},
		"hardening/sa-token-automount":        {CIS: []string{"5.1.6"}, NSA: []string{"pod-security.sa-tokens"}, MITRE: []string{"T1528"}},
		"hardening/secret-in-env":             {CIS: []string{"5.4.1"}, NSA: []string{"network.secrets"}, MITRE: []string{"T1552"}},
		"hardening/container-runtime-socket":  {CIS: []string{"5.2.11"}, NSA: enforce, MITRE: []string{"T1611", "T1610", "T1612"}, PSS: []string{"baseline/hostpath-volumes"}},
		"hardening/sensitive-host-path":       {CIS: []string{"5.2.11"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/hostpath-volumes"}},
		"hardening/writable-host-path":        {CIS: []string{"5.2.11"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/hostpath-volumes"}},
		"hardening/host-devices":              {NSA: enforce, MITRE: []string{"T1611"}},
		"hardening/default-namespace":         {CIS: []string{"5.6.1", "5.6.4"}, NSA: []string{"network.namespaces"}},
		"hardening/default-service-account":   {CIS: []string{"5.1.5"}, NSA: []string{"authz.rbac"}, MITRE: []string{"T1078.001"}},
		"hardening/service-exposed":           {NSA: []string{"network.worker-segmentation"}, MITRE: []string{"T1133", "T1190"}},
		"hardening/no-network-policy":         {CIS: []string{"5.3.2"}, NSA: []string{"network.policies"}, MITRE: []string{"T1046"}},
		"hardening/registry-not-allowed":      {CIS: []string{"5.5.1"}, NSA: images, MITRE: []string{"T1204.003", "T1525"}},
		"hardening/deprecated-api-version":    {NSA: []string{"upgrading"}},
		"hardening/run-as-low-uid":            {NSA: []string{"pod-security.non-root"}, MITRE: []string{"T1611"}},
		"hardening/run-as-low-gid":            {NSA: []string{"pod-security.non-root"}, MITRE: []string{"T1611"}},
		"hardening/root-group":                {CIS: []string{"5.2.7"}, NSA: []string{"pod-security.non-root"}, MITRE: []string{"T1611"}},
		"hardening/privileged-port":           {NSA: []string{"pod-security.non-root"}},
		"hardening/ssh-port":                  {NSA: []string{"pod-security.secure-images"}, MITRE: []string{"T1021", "T1133"}},
		"hardening/host-aliases":              {MITRE: []string{"T1557"}},
		"hardening/no-security-context":       {CIS: []string{"5.6.3"}, NSA: enforce},
		"hardening/kube-system-workload":      {CIS: []string{"5.6.1"}, NSA: []string{"network.namespaces"}, MITRE: []string{"T1610"}},
		"hardening/tiller":                    {NSA: []string{"authz.rbac"}, MITRE: []string{"T1610", "T1190"}},
		"hardening/configmap-secret":          {CIS: []string{"5.4.1"}, NSA: []string{"network.secrets"}, MITRE: []string{"T1552.001"}},
		"hardening/service-external-ips":      {NSA: []string{"network.worker-segmentation"}, MITRE: []string{"T1557"}},
		"hardening/ingress-no-tls":            {NSA: []string{"network.encryption"}, MITRE: []string{"T1557"}},
		PrivilegedContainerID:                 {CIS: []string{"5.2.2"}, NSA: enforce, MITRE: []string{"T1611", "T1610"}, PSS: []string{"baseline/privileged-containers"}},
		HostPIDID:                             {CIS: []string{"5.2.3"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/host-namespaces"}},
		HostIPCID:                             {CIS: []string{"5.2.4"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/host-namespaces"}},
		HostNetworkID:                         {CIS: []string{"5.2.5"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/host-namespaces"}},
		HostPortID:                            {CIS: []string{"5.2.12"}, NSA: enforce, PSS: []string{"baseline/host-ports"}},
		HostPathVolumeID:                      {CIS: []string{"5.2.11"}, NSA: enforce, MITRE: []string{"T1611"}, PSS: []string{"baseline/hostpath-volumes"}},
		PrivilegeEscalationID:                 {CIS: []string{"5.2.6"}, NSA: enforce, MITRE: []string{"T1548.001"}, PSS: []string{"restricted/privilege-escalation"}},
		"hardening/secret-env-ref":            {CIS: []string{"5.4.1"}, NSA: []string{"network.secrets"}, MITRE: []string{"T1552"}},
	}
}
