package nodeaudit

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Setting is the effective value of one flag and where it came from.
type Setting struct {
	Value string
	// Source is a host path ("/etc/kubernetes/manifests/kube-apiserver.yaml",
	// "/proc/812/cmdline") or "k3s default".
	Source string
}

// Flags are a component's effective flags, by name without dashes. Later
// sources override earlier ones, as the last occurrence of a flag wins on
// a command line.
type Flags struct {
	m map[string]Setting
}

// Set records a flag value from a source.
func (f *Flags) Set(name, value, source string) {
	if f.m == nil {
		f.m = map[string]Setting{}
	}
	f.m[strings.TrimLeft(name, "-")] = Setting{Value: value, Source: source}
}

// Lookup returns a flag's setting.
func (f *Flags) Lookup(name string) (Setting, bool) {
	s, ok := f.m[name]
	return s, ok
}

// Get returns a flag's value.
func (f *Flags) Get(name string) (string, bool) {
	s, ok := f.m[name]
	return s.Value, ok
}

// Names lists the flags set, sorted.
func (f *Flags) Names() []string {
	out := make([]string, 0, len(f.m))
	for n := range f.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Merge sets every flag of args (as parsed by ParseArgs) from source.
func (f *Flags) Merge(args []Arg, source string) {
	for _, a := range args {
		f.Set(a.Name, a.Value, source)
	}
}

// Arg is one --name=value of a command line.
type Arg struct{ Name, Value string }

// ParseArgs reads Kubernetes-style flags: --name=value, --name value, or a
// bare --name (a boolean, true). Positional words (a subcommand such as
// "server") are skipped. Component flags of Kubernetes take booleans only
// in the --name=value form, so a bare flag followed by a word that is not a
// flag is read as "--name value".
func ParseArgs(tokens []string) []Arg {
	var out []Arg
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		if !strings.HasPrefix(t, "-") || t == "-" || t == "--" {
			continue
		}
		name := strings.TrimLeft(t, "-")
		if name == "" {
			continue
		}
		if n, v, ok := strings.Cut(name, "="); ok {
			if n != "" {
				out = append(out, Arg{n, v})
			}
			continue
		}
		if i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1], "-") && !boolFlags[name] {
			out = append(out, Arg{name, tokens[i+1]})
			i++
			continue
		}
		out = append(out, Arg{name, "true"})
	}
	return out
}

// boolFlags are flags that never take the next word as their value.
var boolFlags = map[string]bool{
	"anonymous-auth": true, "profiling": true, "allow-privileged": true, "client-cert-auth": true,
	"peer-client-cert-auth": true, "auto-tls": true, "peer-auto-tls": true, "rotate-certificates": true,
	"protect-kernel-defaults": true, "use-service-account-credentials": true, "service-account-lookup": true,
	"cluster-init": true, "secrets-encryption": true, "make-iptables-util-chains": true,
}

// SplitWords splits a shell-like line into words, honouring single and
// double quotes and backslash escapes (no expansion).
func SplitWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case unicode.IsSpace(r):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// ParseArgsFile reads a MicroK8s args file: one or more flags per line,
// '#' comments, ${SNAP}/${SNAP_DATA} style variables expanded with vars.
func ParseArgsFile(data []byte, vars map[string]string) []Arg {
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxConfigFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tokens = append(tokens, SplitWords(expandVars(line, vars))...)
	}
	return ParseArgs(tokens)
}

func expandVars(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
		s = strings.ReplaceAll(s, "$"+k+"/", v+"/")
	}
	return s
}

// ParseEnvFile reads KEY="value" lines of a systemd EnvironmentFile or the
// Environment= lines of a unit drop-in, returning the variables.
func ParseEnvFile(data []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxConfigFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Environment="); ok {
			// Environment="A=b c" "D=e": each word is one assignment.
			for _, w := range SplitWords(rest) {
				if k, v, ok := strings.Cut(w, "="); ok {
					vars[k] = v
				}
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, " \t[") {
			words := SplitWords(v)
			vars[k] = strings.Join(words, " ")
		}
	}
	return vars
}

// staticPod is the part of a Pod manifest the audit needs.
type staticPod struct {
	Kind string `json:"kind"`
	Spec struct {
		Containers []struct {
			Name    string   `json:"name"`
			Command []string `json:"command"`
			Args    []string `json:"args"`
		} `json:"containers"`
		Volumes []struct {
			HostPath *struct {
				Path string `json:"path"`
			} `json:"hostPath"`
		} `json:"volumes"`
	} `json:"spec"`
}

// ParseStaticPod returns the command line (command then args) of the first
// container of a static Pod manifest, as kubeadm writes them.
func ParseStaticPod(data []byte) ([]string, error) {
	var p staticPod
	if err := yaml.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parse static pod: %w", err)
	}
	if p.Kind != "Pod" {
		return nil, fmt.Errorf("parse static pod: kind is %q, want Pod", p.Kind)
	}
	if len(p.Spec.Containers) == 0 {
		return nil, fmt.Errorf("parse static pod: no containers")
	}
	c := p.Spec.Containers[0]
	return append(append([]string{}, c.Command...), c.Args...), nil
}

// K3sConfig is a merged k3s configuration: keys are k3s CLI flag names.
// List values keep every element; scalars are strings.
type K3sConfig map[string][]string

// ParseK3sConfig reads one k3s config.yaml document.
func ParseK3sConfig(data []byte) (K3sConfig, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse k3s config: %w", err)
	}
	out := K3sConfig{}
	for k, v := range raw {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				out[k] = append(out[k], scalar(e))
			}
		case map[string]any:
			return nil, fmt.Errorf("parse k3s config: key %q: a mapping is not a valid value", k)
		default:
			out[k] = []string{scalar(t)}
		}
	}
	return out, nil
}

func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == float64(int64(t)) {
			return fmt.Sprintf("%d", int64(t))
		}
		return fmt.Sprintf("%g", t)
	default:
		return fmt.Sprint(t)
	}
}

// MergeK3sConfig applies a later config file over an earlier one the way
// k3s does: a key replaces the earlier value, a key ending in "+" appends
// to it.
func MergeK3sConfig(base, next K3sConfig) K3sConfig {
	out := K3sConfig{}
	for k, v := range base {
		out[k] = v
	}
	keys := make([]string, 0, len(next))
	for k := range next {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if name, ok := strings.CutSuffix(k, "+"); ok {
			out[name] = append(append([]string{}, out[name]...), next[k]...)
			continue
		}
		out[k] = next[k]
	}
	return out
}

// Get returns the last value of a key.
func (c K3sConfig) Get(key string) (string, bool) {
	v := c[key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// Bool reports whether a boolean key is set to true.
func (c K3sConfig) Bool(key string) bool {
	v, ok := c.Get(key)
	return ok && (v == "true" || v == "")
}

// ComponentArgs returns the "name=value" items of a list key such as
// kube-apiserver-arg as flags.
func (c K3sConfig) ComponentArgs(key string) []Arg {
	var out []Arg
	for _, item := range c[key] {
		item = strings.TrimLeft(item, "-")
		n, v, ok := strings.Cut(item, "=")
		if !ok {
			v = "true"
		}
		if n != "" {
			out = append(out, Arg{n, v})
		}
	}
	return out
}

// K3sConfigFromArgs turns a k3s command line ("k3s server --flag=v ...")
// into config keys, lists accumulating as on the command line.
func K3sConfigFromArgs(tokens []string) K3sConfig {
	out := K3sConfig{}
	for _, a := range ParseArgs(tokens) {
		out[a.Name] = append(out[a.Name], a.Value)
	}
	return out
}

// RunningLine finds, in a k3s log tail, the last `Running <component> ...`
// line and returns the flags it lists. k3s logs this line with the exact
// command line it starts each embedded component with.
func RunningLine(log []byte, component string) ([]string, bool) {
	marker := []byte("Running " + component + " ")
	i := bytes.LastIndex(log, marker)
	if i < 0 {
		return nil, false
	}
	line := log[i+len(marker):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	// The message is quoted in logfmt: msg="Running kube-apiserver ...".
	s := strings.TrimRight(string(line), " \r")
	s = strings.TrimSuffix(s, `"`)
	s = strings.ReplaceAll(s, `\"`, `"`)
	return strings.Fields(s), true
}
