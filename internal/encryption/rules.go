package encryption

import (
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// Rule IDs. They are stable: users write them in exemptions.
const (
	RulePlaintext        = "encryption/plaintext-at-rest"
	RuleStaleKey         = "encryption/stale-key"
	RuleUnknownEncoding  = "encryption/unknown-encoding"
	RuleNotConfigured    = "encryption/not-configured"
	RuleIdentityFirst    = "encryption/identity-first"
	RuleWeakProvider     = "encryption/weak-provider"
	RuleKeyAge           = "encryption/key-age"
	RuleNotCovered       = "encryption/resource-not-covered"
	RuleInvalidKey       = "encryption/invalid-key"
	RuleNotVerified      = "encryption/not-verified"
	defaultMaxKeyAgeDays = 90
)

var (
	refCIS1227 = finding.Reference{Title: "CIS Kubernetes Benchmark 1.2.27: --encryption-provider-config is set"}
	refCIS1228 = finding.Reference{Title: "CIS Kubernetes Benchmark 1.2.28: encryption providers are appropriately configured"}
	refK8sDocs = finding.Reference{Title: "Kubernetes: Encrypting Confidential Data at Rest",
		URL: "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"}
	refKMS = finding.Reference{Title: "Kubernetes: Using a KMS provider for data encryption",
		URL: "https://kubernetes.io/docs/tasks/administer-cluster/kms-provider/"}
)

// ruleList lists the metadata of every rule this package reports (Rules
// adds the framework mappings).
func ruleList() []rule.Rule {
	return []rule.Rule{
		{ID: RulePlaintext, Severity: finding.SeverityHigh, Title: "Object stored in etcd as plaintext",
			Description: "The raw value in etcd has no encryption prefix: anyone with etcd access, an etcd backup or the disk reads it.",
			Remediation: "Enable an encrypting provider for the resource, then rewrite the objects so they are stored with it: kubectl get secrets -A -o json | kubectl replace -f - (or palisade cluster encryption --rewrite).",
			References:  []finding.Reference{refCIS1227, refK8sDocs}},
		{ID: RuleStaleKey, Severity: finding.SeverityLow, Title: "Object encrypted with a key that no longer writes",
			Description: "The object is encrypted, but not with the provider and key the configuration now writes with: the old key cannot be removed until the object is rewritten.",
			Remediation: "Rewrite the objects (kubectl get secrets -A -o json | kubectl replace -f -, or palisade cluster encryption --rewrite) and then remove the old key.",
			References:  []finding.Reference{refK8sDocs}},
		{ID: RuleUnknownEncoding, Severity: finding.SeverityMedium, Title: "Stored value in an unknown encoding",
			Description: "The raw value is neither a known plaintext encoding nor carries a k8s:enc: prefix; Palisade cannot tell whether it is protected.",
			Remediation: "Inspect the value; check that etcd is only written by the API server."},
		{ID: RuleNotConfigured, Severity: finding.SeverityHigh, Title: "Encryption at rest is not configured",
			Description: "The API server has no --encryption-provider-config: every Secret is stored in etcd as plaintext.",
			Remediation: "Write an EncryptionConfiguration with kms (v2) or secretbox first for secrets, pass it with --encryption-provider-config, restart the API server and rewrite existing Secrets.",
			References:  []finding.Reference{refCIS1227, refK8sDocs}},
		{ID: RuleIdentityFirst, Severity: finding.SeverityHigh, Title: "identity is the first (writing) provider",
			Description: "The first provider of an entry encrypts new writes; identity first means the resources are written as plaintext even though encryption keys are configured.",
			Remediation: "Move the encrypting provider first and keep identity last, only to read objects not yet rewritten.",
			References:  []finding.Reference{refCIS1228, refK8sDocs}},
		{ID: RuleWeakProvider, Severity: finding.SeverityMedium, Title: "Weak or deprecated encryption provider writes",
			Description: "aescbc is vulnerable to padding-oracle attacks and no longer recommended; aesgcm with a static key risks nonce reuse unless rotated every 200,000 writes; KMS v1 is deprecated. Local providers keep the key next to the data it protects.",
			Remediation: "Prefer kms with apiVersion v2 (an external key service), or secretbox; rotate keys regularly.",
			References:  []finding.Reference{refCIS1228, refKMS}},
		{ID: RuleKeyAge, Severity: finding.SeverityMedium, Title: "Writing key is old",
			Description: "The key that encrypts new writes has not been rotated within the allowed age (90 days by default). The age comes from a date in the key name or, failing that, from the file's modification time (a lower bound).",
			Remediation: "Rotate: add a new key first, restart every API server, rewrite all objects, then remove the old key.",
			References:  []finding.Reference{refK8sDocs}},
		{ID: RuleNotCovered, Severity: finding.SeverityHigh, Title: "Resource not covered by the encryption configuration",
			Description: "No entry of the EncryptionConfiguration matches the resource, so it is stored as plaintext.",
			Remediation: "Add the resource (or a wildcard such as *.*) to an entry with an encrypting provider first.",
			References:  []finding.Reference{refCIS1228, refK8sDocs}},
		{ID: RuleInvalidKey, Severity: finding.SeverityHigh, Title: "Invalid encryption key",
			Description: "A key is not valid base64 or has the wrong length for its provider (aescbc and secretbox need 32 bytes, aesgcm 16, 24 or 32); the API server refuses to start with it, or a duplicate name makes rotation ambiguous.",
			Remediation: "Generate keys with head -c 32 /dev/urandom | base64 and give every key a unique name."},
		{ID: RuleNotVerified, Severity: finding.SeverityLow, Title: "Encryption at rest not verified",
			Description: "Without access to etcd, Palisade only saw the configuration: it cannot tell whether the stored objects are actually encrypted (objects written before encryption was enabled stay plaintext until rewritten).",
			Remediation: "Run palisade cluster encryption with --etcd-endpoints and the etcd client certificate to read the stored values."},
	}
}

// RuleInfos returns the metadata of the rules with these IDs, for a report.
func RuleInfos(ids map[string]bool) []finding.RuleInfo {
	var out []finding.RuleInfo
	for _, r := range Rules() {
		if ids[r.ID] {
			out = append(out, r.Info())
		}
	}
	return out
}

func ruleByID(id string) rule.Rule {
	for _, r := range Rules() {
		if r.ID == id {
			return r
		}
	}
	return rule.Rule{ID: id}
}

// newFinding fills a finding from the rule's metadata.
func newFinding(id, message string, obj finding.ObjectRef) finding.Finding {
	r := ruleByID(id)
	return finding.Finding{RuleID: id, Severity: r.Severity, Title: r.Title, Message: message, Object: obj, Remediation: r.Remediation}
}
