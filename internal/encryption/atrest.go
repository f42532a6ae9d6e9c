package encryption

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// The notes a Report states, in this exact form, so that a report read
// back (ReadReport) yields what the assessment itself says (AtRest).
const (
	noteEtcd = "verification: etcd"
	// noteCheckedAt + RFC 3339 time: when the report was made (set when
	// ReviewOptions.Now is).
	noteCheckedAt = "checked at "
	noteConfig    = "verification: configuration only"
	noteFlags     = "verification: API server flags only"
	noteNone      = "verification: none"
	noteStored    = "%s: %d object(s) in etcd: %s"
	noteNotRead   = "%s: stored values not read; new writes: %s"
	newWrites     = "; new writes: "
	noneStored    = "none stored"
)

// Secrets-at-rest statuses, from most to least favourable.
const (
	// StatusVerified: etcd was read and every Secret in it is encrypted
	// (and, when known, new writes are too). Only LevelEtcd gives it.
	StatusVerified = "verified"
	// StatusConfigured: the EncryptionConfiguration encrypts new writes of
	// Secrets, but the stored values were not read: Secrets written before
	// encryption was enabled may still be plaintext.
	StatusConfigured = "configured"
	// StatusNotEncrypted: etcd holds plaintext Secrets, or the API server
	// writes them as plaintext (no --encryption-provider-config, identity
	// first, Secrets not covered).
	StatusNotEncrypted = "not-encrypted"
	// StatusUnknown: nothing conclusive was read.
	StatusUnknown = "unknown"
)

// AtRest is what an assessment says about Secrets at rest, and how it
// knows: it never claims more than its Level.
type AtRest struct {
	Level  Level
	Status string
	// CheckedAt is when the report was made (its "checked at" note); zero
	// when it does not say.
	CheckedAt time.Time
	// Provider writes (configured) or stored (verified) the Secrets:
	// aescbc, aesgcm, secretbox, kms-v1, kms-v2; several joined by "+".
	Provider string
	Detail   string
}

// atRestFacts are the facts about Secrets an AtRest is decided from; an
// Assessment and a report of it yield the same facts.
type atRestFacts struct {
	level    Level
	revision int64
	// stored is set when etcd was read and covered secrets: label -> count.
	stored map[string]int
	// write is the storage label of new writes ("" when not known).
	write string
	// flagUnset: the API server was seen without --encryption-provider-config.
	flagUnset bool
}

const secretsResource = "secrets"

// AtRest summarises the assessment for Secrets.
func (a *Assessment) AtRest() AtRest {
	f := atRestFacts{level: a.Level(), flagUnset: a.APIServerSeen && a.EncryptionConfigFlag == ""}
	if a.Config != nil {
		f.write = a.Config.WriteStorage(secretsResource).Label()
	}
	if a.Inventory != nil {
		f.revision = a.Inventory.Revision
		for _, r := range a.Inventory.Resources {
			if r.Resource == secretsResource {
				f.stored = map[string]int{}
				for l, n := range r.Counts {
					f.stored[l] = n
				}
			}
		}
	}
	return f.decide()
}

func (f atRestFacts) decide() AtRest {
	out := AtRest{Level: f.level, Status: StatusUnknown}
	writesPlain := f.write == "plaintext" || (f.write == "" && f.flagUnset)
	why := "the API server runs without --encryption-provider-config"
	if f.write == "plaintext" {
		why = "the encryption configuration writes Secrets as plaintext (identity first, or Secrets not covered)"
	}
	switch f.level {
	case LevelEtcd:
		if f.stored == nil {
			out.Detail = "etcd was read, but not for secrets"
			return out
		}
		total, plain, unknown := 0, f.stored["plaintext"], f.stored[ProviderUnknown]
		for _, n := range f.stored {
			total += n
		}
		counts := countsText(f.stored)
		switch {
		case plain > 0:
			out.Status, out.Detail = StatusNotEncrypted, fmt.Sprintf("%d of %d Secrets stored as plaintext in etcd (revision %d; %s)", plain, total, f.revision, counts)
		case writesPlain:
			out.Status, out.Detail = StatusNotEncrypted, fmt.Sprintf("%s; the %d Secrets in etcd are encrypted (revision %d; %s)", why, total, f.revision, counts)
		case unknown > 0:
			out.Detail = fmt.Sprintf("%d of %d Secrets in etcd have an unknown encoding (revision %d; %s)", unknown, total, f.revision, counts)
		case total == 0:
			out.Detail = fmt.Sprintf("no Secret stored in etcd (revision %d): nothing to verify", f.revision)
		default:
			out.Status, out.Provider = StatusVerified, providers(f.stored)
			out.Detail = fmt.Sprintf("all %d Secrets in etcd encrypted (revision %d; %s)", total, f.revision, counts)
		}
	case LevelConfig:
		if writesPlain {
			out.Status, out.Detail = StatusNotEncrypted, why
			return out
		}
		out.Status, out.Provider = StatusConfigured, providers(map[string]int{f.write: 1})
		out.Detail = fmt.Sprintf("new Secrets are written with %s; stored values were not read: Secrets written before encryption was enabled may be plaintext", f.write)
	case LevelFlags:
		if f.flagUnset {
			out.Status, out.Detail = StatusNotEncrypted, why
			return out
		}
		out.Detail = "the API server sets --encryption-provider-config, but the configuration could not be read"
	default:
		out.Detail = "no etcd access, no encryption configuration and no API server configuration: nothing is known"
	}
	return out
}

// countsText renders storage counts as a report note does: most first.
func countsText(m map[string]int) string {
	r := ResourceInventory{Counts: m}
	parts := make([]string, 0, len(m))
	for _, l := range r.Labels() {
		parts = append(parts, fmt.Sprintf("%d %s", m[l], l))
	}
	if len(parts) == 0 {
		return noneStored
	}
	return strings.Join(parts, ", ")
}

// providers names the encrypting providers of storage labels
// ("secretbox:k1" -> secretbox, "kms-v2:vault" -> kms-v2).
func providers(m map[string]int) string {
	seen := map[string]bool{}
	var out []string
	for l := range m {
		p, _, _ := strings.Cut(l, ":")
		if p == "plaintext" || p == ProviderUnknown || p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

// MaxReportBytes bounds a report read by ReadReport; a report lists one
// finding per plaintext object, so it grows with the cluster.
const MaxReportBytes = 32 << 20

var (
	reNoteStored = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^` + secretsResource + `: (\d+) object\(s\) in etcd: (.*)$`)
	})
	reNoteNotRead = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^` + secretsResource + `: stored values not read; new writes: (.+)$`)
	})
	reRevision     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`at revision (\d+)`) })
	reStorageCount = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+) (\S+)$`) })
)

// ReadReport reads the JSON report of `palisade cluster encryption -o
// json` and returns what it says about Secrets, exactly as AtRest does on
// the assessment that produced it. A document that is not such a report is
// an error, never "unknown".
func ReadReport(r io.Reader) (AtRest, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return AtRest{}, err
	}
	if len(data) > MaxReportBytes {
		return AtRest{}, fmt.Errorf("encryption report larger than %d bytes", MaxReportBytes)
	}
	var rep finding.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return AtRest{}, fmt.Errorf("encryption report: %w", err)
	}
	return FromReport(&rep)
}

// FromReport is ReadReport on a decoded report.
func FromReport(rep *finding.Report) (AtRest, error) {
	f := atRestFacts{}
	found := false
	var checkedAt time.Time
	for _, p := range rep.Problems {
		m := p.Message
		if !found {
			lv, ok := levelOfNote(m)
			if ok {
				f.level, found = lv, true
				if lv == LevelEtcd {
					if sm := reRevision().FindStringSubmatch(m); sm != nil {
						f.revision, _ = strconv.ParseInt(sm[1], 10, 64)
					}
				}
				continue
			}
		}
		if ts, ok := strings.CutPrefix(m, noteCheckedAt); ok {
			t, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				return AtRest{}, fmt.Errorf("encryption report: %q: %v", m, err)
			}
			checkedAt = t
			continue
		}
		if sm := reNoteNotRead().FindStringSubmatch(m); sm != nil {
			f.write = sm[1]
			continue
		}
		sm := reNoteStored().FindStringSubmatch(m)
		if sm == nil {
			continue
		}
		counts, write, _ := strings.Cut(sm[2], newWrites)
		f.write = write
		f.stored = map[string]int{}
		if counts == noneStored {
			continue
		}
		for _, c := range strings.Split(counts, ", ") {
			cm := reStorageCount().FindStringSubmatch(c)
			if cm == nil {
				return AtRest{}, fmt.Errorf("encryption report: storage count %q: not \"<n> <storage>\"", c)
			}
			n, err := strconv.Atoi(cm[1])
			if err != nil || n < 0 {
				return AtRest{}, fmt.Errorf("encryption report: storage count %q: %v", c, err)
			}
			f.stored[cm[2]] += n
		}
	}
	if !found {
		return AtRest{}, errors.New("not a palisade cluster encryption report: no \"verification:\" note")
	}
	notStored := 0 // findings of Secrets stored as plaintext or unreadable
	for _, fd := range rep.Findings {
		switch fd.RuleID {
		case RuleNotConfigured:
			f.flagUnset = true
		case RulePlaintext, RuleUnknownEncoding:
			if fd.Object.Kind == "Secret" {
				notStored++
			}
		}
	}
	if f.level != LevelEtcd {
		f.stored = nil // stored counts only count when etcd was read
	}
	out := f.decide()
	if out.Status == StatusVerified && notStored > 0 {
		// The notes say every Secret is encrypted, the findings say
		// otherwise: an edited report.
		return AtRest{}, fmt.Errorf("encryption report: the notes say all Secrets are encrypted, but %d finding(s) of %s or %s contradict them", notStored, RulePlaintext, RuleUnknownEncoding)
	}
	out.CheckedAt = checkedAt
	return out, nil
}

func levelOfNote(m string) (Level, bool) {
	for _, c := range []struct {
		prefix string
		level  Level
	}{{noteEtcd, LevelEtcd}, {noteConfig, LevelConfig}, {noteFlags, LevelFlags}, {noteNone, LevelNone}} {
		if strings.HasPrefix(m, c.prefix) {
			return c.level, true
		}
	}
	return "", false
}
