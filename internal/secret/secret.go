// Package secret recognises credentials in text and in NAME=value pairs.
//
// It is shared by every scanner that may meet a secret: environment
// variables in Kubernetes manifests, ENV and ARG in Dockerfiles, and files
// inside container images. Its contract for callers:
//
//   - Nothing it returns contains a whole secret: Match.Masked and
//     Match.Description are safe to print, log and store.
//   - Time is linear in the input (Go's regexp is RE2, no backtracking) and
//     the number of matches is capped at MaxMatches, so a hostile or huge
//     input cannot stall a scan or flood a report.
//   - False positives are kept low on purpose: self-identifying tokens
//     (AKIA..., ghp_..., PEM headers) are reported wherever they appear,
//     while generic "password = value" assignments need a literal value
//     that is not a placeholder or a reference (see IsPlaceholder).
//
// The documentation examples published by AWS (AKIAIOSFODNN7EXAMPLE and
// the matching secret key ending in EXAMPLEKEY) are not reported: they are
// public, grant nothing, and appear in countless tutorials and tests.
package secret

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Match is one credential found.
type Match struct {
	// Kind is a stable, machine-readable name such as "private-key",
	// "aws-access-key-id", "github-token" or "password-assignment".
	Kind string
	// Description says in words what was found; it never quotes the secret.
	Description string
	// Line is the 1-based line of the secret in the scanned text; 0 from
	// ScanKeyValue, whose caller knows where the pair was written.
	Line int
	// Masked is the secret reduced by Mask.
	Masked string
}

// MaxMatches bounds how many matches ScanText returns for one input.
const MaxMatches = 1000

// Mask hides a secret for display: it keeps at most the first 4 characters
// (fewer for short values, so that at least three quarters stay hidden)
// followed by "****". It never returns the whole value, even for a value of
// one character.
func Mask(value string) string {
	keep := utf8.RuneCountInString(value) / 4
	if keep > 4 {
		keep = 4
	}
	i := 0
	for n := 0; n < keep; n++ {
		_, size := utf8.DecodeRuneInString(value[i:])
		i += size
	}
	return value[:i] + "****"
}

// detector finds one kind of credential. The submatch group holds the
// secret itself (the part that is masked and located); the whole match is
// used to stop two detectors reporting the same text.
type detector struct {
	kind        string
	description string
	re          *regexp.Regexp
	group       int
	// accept, when set, rejects look-alikes the expression cannot express.
	accept func(secret string) bool
	// keywords: re can only match a line that contains one of them (in
	// ASCII lower case when fold is set, for case-insensitive
	// expressions). They let ScanText skip a detector's expression on most
	// files; FuzzScanTextFastPath checks they are complete.
	keywords []string
	fold     bool
	// lineLocal: every match lies within one line, but for the newline
	// before it (an assignment's key may start after "\n"). ScanText then
	// runs re only over the lines holding a keyword.
	lineLocal bool
}

// detectors are tried in order; an earlier, more specific detector wins
// over a later one on overlapping text (a GCP key file over a bare PEM key,
// a GitHub token over a generic "token = ..." assignment).
//
// They are compiled on first use, not at package init: every palisade
// command links this package, and compiling the expressions took about
// 3.6 ms and 470 KB at the start of each process, secret scan or not
// (the warm `scan image --scanners vuln` never scans a file).
var detectors = sync.OnceValue(func() []detector {
	return []detector{
		{
			kind:        "gcp-service-account-key",
			description: "GCP service account key (private_key of a service account JSON file)",
			re:          regexp.MustCompile(`"private_key"\s*:\s*"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----(?:\\n)+([A-Za-z0-9+/=]{40,})`),
			group:       1,
			keywords:    []string{`"private_key"`},
		},
		{
			kind:        "private-key",
			description: "PEM private key",
			// Up to four header lines (Proc-Type, DEK-Info of encrypted keys)
			// may precede the body. The body must be there: a bare header, as in
			// documentation, is not a key. Newlines may be escaped ("\n") when
			// the key sits inside a JSON or YAML string.
			re:       regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]{1,12} ){0,2}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\n|\\r)+(?:[A-Za-z-]{1,20}: [^\n\\]{1,100}(?:\s|\\n|\\r)+){0,4}([A-Za-z0-9+/=]{40,})`),
			group:    1,
			keywords: []string{"PRIVATE KEY"},
		},
		{
			kind:        "aws-access-key-id",
			description: "AWS access key ID",
			re:          regexp.MustCompile(`\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16})\b`),
			group:       1,
			accept:      notAWSExample,
			keywords:    []string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"},
			lineLocal:   true,
		},
		{
			kind:        "aws-secret-access-key",
			description: "AWS secret access key",
			re:          regexp.MustCompile(`(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?\s*(?::=|[:=])\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)`),
			group:       1,
			accept:      notAWSExample,
			keywords:    []string{"secret"},
			fold:        true,
		},
		{
			kind:        "azure-storage-key",
			description: "Azure storage account key",
			re:          regexp.MustCompile(`(?i)AccountKey=([A-Za-z0-9+/]{86}==)`),
			group:       1,
			keywords:    []string{"accountkey="},
			fold:        true,
			lineLocal:   true,
		},
		{
			kind:        "azure-sas-token",
			description: "Azure shared access signature",
			re:          regexp.MustCompile(`(?i)[?&;]sv=\d{4}-\d{2}-\d{2}&[^\s"'<>]*?\bsig=([A-Za-z0-9%+/=]{30,})`),
			group:       1,
			keywords:    []string{"sig="},
			fold:        true,
			lineLocal:   true,
		},
		{
			kind:        "github-token",
			description: "GitHub token",
			re:          regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b`),
			group:       1,
			keywords:    []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
			lineLocal:   true,
		},
		{
			kind:        "gitlab-token",
			description: "GitLab token",
			re:          regexp.MustCompile(`\b(gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_\-]{20,64})\b`),
			group:       1,
			keywords:    []string{"glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"},
			lineLocal:   true,
		},
		{
			kind:        "slack-token",
			description: "Slack token",
			re:          regexp.MustCompile(`\b(xox[abposre]-[A-Za-z0-9][A-Za-z0-9-]{9,})\b`),
			group:       1,
			keywords:    []string{"xox"},
			lineLocal:   true,
		},
		{
			kind:        "slack-webhook",
			description: "Slack incoming webhook URL",
			re:          regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows)/(T[A-Z0-9]{6,12}/[A-Za-z0-9/]{20,})`),
			group:       1,
			keywords:    []string{"https://hooks.slack.com/"},
			lineLocal:   true,
		},
		{
			kind:        "stripe-key",
			description: "Stripe secret or restricted API key",
			re:          regexp.MustCompile(`\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})\b`),
			group:       1,
			keywords:    []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"},
			lineLocal:   true,
		},
		{
			kind:        "npm-token",
			description: "npm access token",
			re:          regexp.MustCompile(`\b(npm_[A-Za-z0-9]{36})\b`),
			group:       1,
			keywords:    []string{"npm_"},
			lineLocal:   true,
		},
		{
			kind:        "npm-token",
			description: "npm registry auth token in an .npmrc line",
			re:          regexp.MustCompile(`:_(?:authToken|auth|password)\s*=\s*([^\s"'$]{8,})`),
			group:       1,
			accept:      func(s string) bool { return !IsPlaceholder(s) },
			keywords:    []string{":_auth", ":_password"},
		},
		{
			kind:        "jwt",
			description: "JSON Web Token",
			re:          regexp.MustCompile(`\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})`),
			group:       1,
			keywords:    []string{"eyJ"},
			lineLocal:   true,
		},
		{
			kind:        "url-credentials",
			description: "password in a URL (user:password@host)",
			re:          regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@"'<>]+:([^\s/?#@"'<>]+)@[A-Za-z0-9\[]`),
			group:       1,
			accept:      func(s string) bool { return !IsPlaceholder(s) },
			keywords:    []string{"://"},
			lineLocal:   true,
		},
		{
			kind:        "password-assignment",
			description: "password assigned a literal value",
			re:          assignment(`pass(?:word|wd|phrase)`),
			group:       1,
			accept:      literalSecret,
			keywords:    []string{"pass"},
			fold:        true,
			lineLocal:   true,
		},
		{
			kind:        "secret-assignment",
			description: "secret, token or API key assigned a literal value",
			re:          assignment(`secret|token|api_?key|apikey|access_?key|private_?key|secret_?key|client_?secret|auth_?token`),
			group:       1,
			accept:      literalSecret,
			keywords:    []string{"secret", "token", "key"},
			fold:        true,
			lineLocal:   true,
		},
	}
})

// assignment matches `<...word> = value`, `<...word>: value`, `"word": "value"`
// and `word := "value"`, where the key ends with one of words; group 1 is
// the value without its quotes.
func assignment(words string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9])[A-Za-z0-9_.\-]*(?:` + words + `)["']?[ \t]*(?::=|[:=])[ \t]*(?:"([^"\r\n]+)"|'([^'\r\n]+)'|([^\s"',;]+))`)
}

// notAWSExample rejects the keys AWS publishes in its documentation.
func notAWSExample(s string) bool {
	return !strings.HasSuffix(s, "EXAMPLE") && !strings.HasSuffix(s, "EXAMPLEKEY")
}

// literalSecret accepts a generic assignment's value when it looks like a
// literal credential rather than code or configuration plumbing.
func literalSecret(s string) bool {
	if len(s) < 6 || IsPlaceholder(s) {
		return false
	}
	// Code, not a literal: calls, member access (config.password),
	// comparisons and empty structures.
	if strings.ContainsAny(s[:1], "=([{!&|") || strings.Contains(s, "(") || memberAccess().MatchString(s) {
		return false
	}
	return true
}

var memberAccess = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$`)
})

// placeholderWords are values that stand for "not set here".
var placeholderWords = map[string]bool{
	"password": true, "passwd": true, "pass": true, "secret": true, "token": true, "key": true,
	"apikey": true, "api_key": true, "test": true, "testing": true, "none": true, "null": true,
	"nil": true, "undefined": true, "true": true, "false": true, "yes": true, "no": true,
	"empty": true, "default": true, "string": true, "value": true, "required": true,
	"optional": true, "unset": true, "unknown": true, "n/a": true, "tbd": true,
}

// placeholderMarkers inside a value mark it as a placeholder.
var placeholderMarkers = []string{
	"changeme", "change_me", "change-me", "changeit", "example", "placeholder", "redacted",
	"dummy", "replace", "your_", "your-", "yourpass", "yoursecret", "yourtoken", "xxxx",
	"****", "....", "todo", "fixme", "insert_", "_here", "-here",
}

// IsPlaceholder reports whether a value is a placeholder or a reference
// rather than a literal secret: empty; a variable, command or template
// reference ($VAR, ${VAR}, $(cmd), {{ .x }}, %(x)s, #{x}, <password>); a
// file path (a secret mounted at run time); one character repeated
// ("xxxxxx", "******"); a generic word (password, secret, none, true ...);
// or a value containing a marker such as "changeme", "example",
// "placeholder", "redacted", "your-", "xxxx" or "todo".
//
// Values such as "changeme" are deliberately not reported: they say the
// value is to be set elsewhere, and reporting them would bury real leaks.
// A weak but real value ("admin", "hunter2") is reported.
func IsPlaceholder(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return true
	}
	switch {
	case strings.HasPrefix(v, "$"), strings.Contains(v, "${"), strings.Contains(v, "$("),
		strings.Contains(v, "{{"), strings.Contains(v, "%("), strings.Contains(v, "%{"),
		strings.HasPrefix(v, "#{"), strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"),
		strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"),
		strings.HasPrefix(v, "/"), strings.HasPrefix(v, "./"), strings.HasPrefix(v, "~/"):
		return true
	}
	if first, _ := utf8.DecodeRuneInString(v); strings.Trim(v, string(first)) == "" {
		return true
	}
	lower := strings.ToLower(v)
	if placeholderWords[lower] {
		return true
	}
	for _, m := range placeholderMarkers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// ScanText finds credentials in text: a manifest, a configuration file, a
// file from an image. Matches are ordered by line, at most MaxMatches.
func ScanText(data []byte) []Match {
	fast := newFastPath(data)
	defer fast.release()
	return scanText(data, fast)
}

// scanText is ScanText, with the keyword and line filters of fast, or
// every expression over the whole text when fast is nil.
func scanText(data []byte, fast *fastPath) []Match {
	type span struct{ start, end int }
	var taken []span
	overlaps := func(s span) bool {
		for _, t := range taken {
			if s.start < t.end && t.start < s.end {
				return true
			}
		}
		return false
	}
	type found struct {
		offset int
		m      Match
	}
	var all []found
	for _, d := range detectors() {
		for _, loc := range d.find(data, fast) {
			start, end := secretSpan(loc, d.group)
			if start < 0 {
				continue
			}
			whole := span{loc[0], loc[1]}
			secret := string(data[start:end])
			if (d.accept != nil && !d.accept(secret)) || overlaps(whole) {
				continue
			}
			taken = append(taken, whole)
			// Report the line where the match starts (a PEM header, an
			// assignment's key), not where a long secret's body begins; the
			// assignment expressions may start on the preceding newline.
			at := loc[0]
			if data[at] == '\n' {
				at++
			}
			all = append(all, found{at, Match{Kind: d.kind, Description: d.description, Masked: Mask(secret)}})
			if len(all) > MaxMatches {
				break
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].offset < all[j].offset })
	if len(all) > MaxMatches {
		all = all[:MaxMatches]
	}
	out := make([]Match, 0, len(all))
	line, pos := 1, 0
	for _, f := range all {
		line += countNewlines(data[pos:f.offset])
		pos = f.offset
		f.m.Line = line
		out = append(out, f.m)
	}
	return out
}

// fastPath holds what ScanText computes once per text to skip
// expressions: the text in ASCII lower case. Case-insensitive expressions
// also match two non-ASCII runes as ASCII letters (Go's simple case
// folding: the Kelvin sign K as k, the long s ſ as s); texts holding either
// get no fast path, every expression runs over the whole text.
type fastPath struct {
	lower []byte
	buf   *[]byte
}

// lowerBuffers recycles fastPath.lower between ScanText calls (an image
// scan makes thousands); buffers over 1 MiB are not kept.
var lowerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func newFastPath(data []byte) *fastPath {
	if bytes.Contains(data, []byte("\u212a")) || bytes.Contains(data, []byte("\u017f")) {
		return nil
	}
	bp := lowerBuffers.Get().(*[]byte)
	lower := (*bp)[:0]
	for _, c := range data {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	return &fastPath{lower: lower, buf: bp}
}

func (f *fastPath) release() {
	if f == nil || cap(f.lower) > 1<<20 {
		return
	}
	*f.buf = f.lower[:0]
	lowerBuffers.Put(f.buf)
}

// find returns d's matches in data, as FindAllSubmatchIndex (at most
// MaxMatches+1, offsets into data), looking only where fast says a match
// can be.
func (d *detector) find(data []byte, fast *fastPath) [][]int {
	if fast == nil {
		return d.re.FindAllSubmatchIndex(data, MaxMatches+1)
	}
	text := data
	if d.fold {
		text = fast.lower
	}
	if !d.lineLocal {
		for _, k := range d.keywords {
			if bytes.Contains(text, []byte(k)) {
				return d.re.FindAllSubmatchIndex(data, MaxMatches+1)
			}
		}
		return nil
	}
	// The starts of the lines holding a keyword, in order.
	var lines []int
	for _, k := range d.keywords {
		for off := 0; ; {
			i := bytes.Index(text[off:], []byte(k))
			if i < 0 {
				break
			}
			ls := bytes.LastIndexByte(text[:off+i], '\n') + 1
			lines = append(lines, ls)
			// Next search from the next line: one hit per line is enough.
			nl := bytes.IndexByte(text[off+i:], '\n')
			if nl < 0 {
				break
			}
			off += i + nl + 1
		}
	}
	if len(lines) == 0 {
		return nil
	}
	sort.Ints(lines)
	var out [][]int
	for i, ls := range lines {
		if i > 0 && ls == lines[i-1] {
			continue
		}
		le := len(data)
		if nl := bytes.IndexByte(data[ls:], '\n'); nl >= 0 {
			le = ls + nl
		}
		// Include the newline before the line: in the whole text an
		// expression may start on it, and must see it to agree.
		from := max(ls-1, 0)
		for _, loc := range d.re.FindAllSubmatchIndex(data[from:le], MaxMatches+1-len(out)) {
			for j := range loc {
				if loc[j] >= 0 {
					loc[j] += from
				}
			}
			out = append(out, loc)
		}
		if len(out) > MaxMatches {
			break
		}
	}
	return out
}

// secretSpan returns the first participating submatch at or after group
// (the assignment expressions hold the value in one of three alternative
// groups), or the whole match for group 0.
func secretSpan(loc []int, group int) (int, int) {
	for g := group; 2*g+1 < len(loc); g++ {
		if loc[2*g] >= 0 {
			return loc[2*g], loc[2*g+1]
		}
		if group == 0 {
			break
		}
	}
	return -1, -1
}

func countNewlines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// secretNameWords are the words of a variable name that say it holds a
// secret. A bare "key" is not enough (GPG_KEY in official images holds a
// public fingerprint), nor is "pwd" (the working directory); "pass" counts
// only as the last word (DB_PASS, not PASS_THROUGH).
var secretNameWords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true,
	"token": true, "apikey": true, "credential": true, "credentials": true,
	"privatekey": true, "accesskey": true, "secretkey": true, "authkey": true, "signingkey": true,
	"encryptionkey": true, "masterkey": true, "clientsecret": true,
}

// keyQualifiers make a following "key" a secret: API_KEY, ACCESS_KEY ...
var keyQualifiers = map[string]bool{
	"api": true, "access": true, "secret": true, "private": true, "signing": true,
	"encryption": true, "master": true, "auth": true, "client": true, "license": true,
	"session": true, "hmac": true, "jwt": true,
}

// notSecretSuffixes end names that describe a secret without holding it:
// SECRET_NAME, TOKEN_FILE, PASSWORD_MIN_LENGTH, AWS_ACCESS_KEY_ID ...
var notSecretSuffixes = map[string]bool{
	"file": true, "path": true, "dir": true, "name": true, "ref": true, "url": true,
	"uri": true, "endpoint": true, "id": true, "arn": true, "enabled": true, "ttl": true,
	"length": true, "type": true, "header": true, "version": true, "fingerprint": true,
	"policy": true, "required": true, "rotation": true, "prefix": true, "location": true,
	"hash": true, "expiry": true, "expiration": true, "timeout": true, "mode": true,
	"format": true, "algorithm": true, "user": true, "username": true, "host": true,
	"port": true, "provider": true, "store": true, "backend": true, "count": true,
}

// SecretName reports whether a variable name says it holds a credential
// (DB_PASSWORD, githubToken, STRIPE_API_KEY), and not merely where one is
// (TOKEN_FILE, SECRET_NAME). Words are split on "_", "-", "." and case
// changes.
func SecretName(name string) bool {
	words := splitName(name)
	if len(words) == 0 || notSecretSuffixes[words[len(words)-1]] {
		return false
	}
	for i, w := range words {
		if secretNameWords[w] || (w == "pass" && i == len(words)-1) {
			return true
		}
		if w == "key" && i > 0 && keyQualifiers[words[i-1]] {
			return true
		}
	}
	return false
}

// splitName splits SOME_name.fooBar into lower-case words: some, name, foo, bar.
func splitName(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			flush()
			prevLower = false
			continue
		case r >= 'A' && r <= 'Z' && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
	}
	flush()
	return words
}

// awsSecretByName recognises an AWS secret key under its usual variable names.
var awsSecretByName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`) })

// ScanKeyValue judges one NAME=value pair (an ENV or ARG, a container env
// var). It reports a value that ScanText recognises whatever its name
// (DATABASE_URL=postgres://u:pw@db, X=ghp_...), and otherwise a literal,
// non-placeholder value of a variable whose name says it holds a secret
// (SecretName, IsPlaceholder). Match.Line is 0: the caller knows the line.
func ScanKeyValue(name, value string) (Match, bool) {
	if ms := ScanText([]byte(value)); len(ms) > 0 {
		m := ms[0]
		m.Line = 0
		return m, true
	}
	if !SecretName(name) || IsPlaceholder(value) {
		return Match{}, false
	}
	words := splitName(name)
	switch {
	case awsSecretByName().MatchString(value) && strings.Contains(strings.Join(words, ""), "secretaccesskey") && notAWSExample(value):
		return Match{Kind: "aws-secret-access-key", Description: "AWS secret access key", Masked: Mask(value)}, true
	case hasAny(words, "password", "passwd", "pass", "passphrase"):
		return Match{Kind: "password-assignment", Description: "password assigned a literal value", Masked: Mask(value)}, true
	}
	return Match{Kind: "secret-assignment", Description: "secret, token or API key assigned a literal value", Masked: Mask(value)}, true
}

func hasAny(words []string, want ...string) bool {
	for _, w := range words {
		for _, x := range want {
			if w == x {
				return true
			}
		}
	}
	return false
}
