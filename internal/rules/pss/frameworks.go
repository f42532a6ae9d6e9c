package pss

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps each rule of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules.
func Frameworks() map[string]finding.Frameworks {
	enforce := []string{"pod-security.enforcement"}
	escape := []string{"T1611"}
	return map[string]finding.Frameworks{
		"pss/privileged":                     {CIS: []string{"5.2.2"}, NSA: enforce, MITRE: []string{"T1611", "T1610"}, PSS: []string{"baseline/privileged-containers"}},
		"pss/host-namespaces":                {CIS: []string{"5.2.3", "5.2.4", "5.2.5"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/host-namespaces"}},
		"pss/host-path-volumes":              {CIS: []string{"5.2.11"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/hostpath-volumes"}},
		"pss/host-ports":                     {CIS: []string{"5.2.12"}, NSA: enforce, PSS: []string{"baseline/host-ports"}},
		"pss/host-probes-and-host-lifecycle": {NSA: enforce, PSS: []string{"baseline/host-probes-lifecycle"}},
		"pss/app-armor-profile":              {CIS: []string{"5.6.3"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/apparmor"}},
		"pss/capabilities-baseline":          {CIS: []string{"5.2.9"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/capabilities"}},
		"pss/capabilities-restricted":        {CIS: []string{"5.2.8", "5.2.9"}, NSA: enforce, PSS: []string{"restricted/capabilities"}},
		"pss/proc-mount":                     {NSA: enforce, MITRE: escape, PSS: []string{"baseline/proc-mount-type"}},
		"pss/proc-mount-restricted":          {NSA: enforce, PSS: []string{"baseline/proc-mount-type"}},
		"pss/restricted-volumes":             {NSA: enforce, PSS: []string{"restricted/volume-types"}},
		"pss/run-as-non-root":                {CIS: []string{"5.2.7"}, NSA: []string{"pod-security.non-root"}, PSS: []string{"restricted/running-as-non-root"}},
		"pss/run-as-user":                    {CIS: []string{"5.2.7"}, NSA: []string{"pod-security.non-root"}, PSS: []string{"restricted/running-as-non-root-user"}},
		"pss/se-linux-options":               {CIS: []string{"5.6.3"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/selinux"}},
		"pss/seccomp-profile-baseline":       {CIS: []string{"5.6.2"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/seccomp"}},
		"pss/seccomp-profile-restricted":     {CIS: []string{"5.6.2"}, NSA: enforce, PSS: []string{"restricted/seccomp"}},
		"pss/sysctls":                        {NSA: enforce, PSS: []string{"baseline/sysctls"}},
		"pss/windows-host-process":           {CIS: []string{"5.2.10"}, NSA: enforce, MITRE: escape, PSS: []string{"baseline/host-process"}},
		"pss/allow-privilege-escalation":     {CIS: []string{"5.2.6"}, NSA: enforce, MITRE: []string{"T1548.001"}, PSS: []string{"restricted/privilege-escalation"}},
	}
}
