package encryption

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Level is how much of encryption at rest was verified.
type Level string

// Verification levels, from most to least certain.
const (
	// LevelEtcd: the raw stored values were read from etcd.
	LevelEtcd Level = "etcd"
	// LevelConfig: the EncryptionConfiguration was read, stored values not.
	LevelConfig Level = "config"
	// LevelFlags: only the API server's flags were seen.
	LevelFlags Level = "flags"
	// LevelNone: nothing about encryption could be read.
	LevelNone Level = "none"
)

// Assessment gathers what was learnt about encryption at rest; Report turns
// it into findings without claiming more than its Level allows.
type Assessment struct {
	// Inventory is set when etcd was read.
	Inventory *Inventory
	// Config is the EncryptionConfiguration, when it could be read.
	Config *Config
	// APIServerSeen is true when the API server's flags were found (on
	// this host or given); APIServerSource names where, and
	// EncryptionConfigFlag is its --encryption-provider-config ("" unset).
	APIServerSeen        bool
	APIServerSource      string
	EncryptionConfigFlag string
	// Problems explain what could not be read (no etcd access, an
	// unreadable configuration) and are carried into the report.
	Problems []finding.Problem
}

// Level returns what the assessment verified.
func (a *Assessment) Level() Level {
	switch {
	case a.Inventory != nil:
		return LevelEtcd
	case a.Config != nil:
		return LevelConfig
	case a.APIServerSeen:
		return LevelFlags
	}
	return LevelNone
}

// RewriteCommand is the kubectl pipeline that makes the API server store
// every object of a resource again, with the current writing key.
func RewriteCommand(resource string) string {
	return fmt.Sprintf("kubectl get %s -A -o json | kubectl replace -f -", resource)
}

// writeStorage is the storage new writes of resource get, when known.
func (a *Assessment) writeStorage(resource string) *Storage {
	if a.Config == nil {
		return nil
	}
	s := a.Config.WriteStorage(resource)
	return &s
}

// Report builds the findings and notes. Notes state the verification level
// first, then the per-resource counts, so every output format carries them.
func (a *Assessment) Report(o ReviewOptions) *finding.Report {
	if len(o.Resources) == 0 {
		o.Resources = []string{"secrets"}
	}
	var findings []finding.Finding
	var problems []finding.Problem
	note := func(level, msg string) { problems = append(problems, finding.Problem{Level: level, Message: msg}) }
	objects := 0

	switch a.Level() {
	case LevelEtcd:
		n := 0
		for _, r := range a.Inventory.Resources {
			n += len(r.Objects)
		}
		note(finding.LevelNote, fmt.Sprintf(noteEtcd+" — the raw stored values of %d object(s) were read at revision %d", n, a.Inventory.Revision))
	case LevelConfig:
		note(finding.LevelWarning, fmt.Sprintf(noteConfig+" — %s was read but no stored value: objects written before encryption was enabled may still be plaintext (give --etcd-endpoints to verify)", a.Config.Path))
		for _, res := range o.Resources {
			note(finding.LevelNote, fmt.Sprintf(noteNotRead, res, a.Config.WriteStorage(res).Label()))
		}
	case LevelFlags:
		note(finding.LevelWarning, fmt.Sprintf(noteFlags+" (%s) — neither the encryption configuration nor the stored values were read", a.APIServerSource))
	default:
		note(finding.LevelWarning, noteNone+" — no etcd access, no encryption configuration and no API server configuration found: nothing about encryption at rest is known")
	}
	if !o.Now.IsZero() {
		note(finding.LevelNote, noteCheckedAt+o.Now.UTC().Format(time.RFC3339))
	}
	problems = append(problems, a.Problems...)

	if a.APIServerSeen && a.EncryptionConfigFlag == "" {
		f := newFinding(RuleNotConfigured, "the API server runs without --encryption-provider-config: Secrets are stored as plaintext",
			finding.ObjectRef{Kind: "Component", Name: "kube-apiserver"})
		f.File = a.APIServerSource
		f.Field = "--encryption-provider-config"
		findings = append(findings, f)
	}
	if a.Config != nil {
		findings = append(findings, Review(a.Config, o)...)
		objects++
		if a.Level() != LevelEtcd {
			f := newFinding(RuleNotVerified, "encryption is configured, but the stored values were not read: it is not known whether existing objects are encrypted",
				finding.ObjectRef{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration", Name: filepath.Base(a.Config.Path)})
			f.File = a.Config.Path
			findings = append(findings, f)
		}
	}

	if a.Inventory != nil {
		for _, r := range a.Inventory.Resources {
			objects += len(r.Objects)
			counts := make([]string, 0, len(r.Counts))
			for _, l := range r.Labels() {
				counts = append(counts, fmt.Sprintf("%d %s", r.Counts[l], l))
			}
			summary := noneStored
			if len(counts) > 0 {
				summary = strings.Join(counts, ", ")
			}
			if w := a.writeStorage(r.Resource); w != nil {
				summary += newWrites + w.Label()
			}
			note(finding.LevelNote, fmt.Sprintf(noteStored, r.Resource, len(r.Objects), summary))

			write := a.writeStorage(r.Resource)
			plain, stale := 0, 0
			encrypted := r.Encrypted()
			kind, apiVersion := kindOf(r.Resource)
			for _, obj := range r.Objects {
				ref := finding.ObjectRef{APIVersion: apiVersion, Kind: kind, Namespace: obj.Namespace, Name: obj.Name}
				switch {
				case obj.Storage.Provider == ProviderUnknown:
					findings = append(findings, newFinding(RuleUnknownEncoding, fmt.Sprintf("etcd key %s: value has no known encoding", obj.Key), ref))
				case !obj.Storage.Encrypted:
					plain++
					msg := fmt.Sprintf("stored as plaintext in etcd (%s)", obj.Key)
					if encrypted > 0 || (write != nil && write.Encrypted) {
						msg = fmt.Sprintf("still stored as plaintext although encryption is enabled (%s): rewrite it", obj.Key)
					}
					findings = append(findings, newFinding(RulePlaintext, msg, ref))
				case write != nil && write.Encrypted && obj.Storage != *write:
					stale++
					findings = append(findings, newFinding(RuleStaleKey, fmt.Sprintf("encrypted with %s, but new writes use %s (%s)", obj.Storage.Label(), write.Label(), obj.Key), ref))
				}
			}
			if plain > 0 && (encrypted > 0 || (write != nil && write.Encrypted)) {
				note(finding.LevelWarning, fmt.Sprintf("%s: %d of %d object(s) still plaintext after encryption was enabled; rewrite them: %s (or palisade cluster encryption --rewrite)",
					r.Resource, plain, len(r.Objects), RewriteCommand(r.Resource)))
			} else if stale > 0 {
				note(finding.LevelWarning, fmt.Sprintf("%s: %d object(s) encrypted with an older key; rewrite them before removing it: %s (or palisade cluster encryption --rewrite)",
					r.Resource, stale, RewriteCommand(r.Resource)))
			}
		}
	}

	ids := map[string]bool{}
	for _, f := range findings {
		ids[f.RuleID] = true
	}
	return finding.NewReport(findings, problems, objects, RuleInfos(ids))
}

// kindOf names the kind of a resource for object references.
func kindOf(resource string) (kind, apiVersion string) {
	switch resource {
	case "secrets":
		return "Secret", "v1"
	case "configmaps":
		return "ConfigMap", "v1"
	}
	name, group, _ := strings.Cut(resource, ".")
	return name, group
}
