package nodeaudit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Setting is the effective value of one flag and where it came from.
type Setting struct {
	Value string
	// Source is a host path ("/etc/kubernetes/manifests/kube-apiserver.yaml",
	// "/proc/812/cmdline") or "k3s default"; Line the line of the flag in
	// that file, 0 when unknown.
	Source string
	Line   int
}

// Flags are a component's effective flags, by name without dashes, as the
// component's flag parser (spf13/pflag for Kubernetes components) builds
// them from one command line: a scalar flag given twice keeps the last
// value; a list flag (--enable-admission-plugins, --authorization-mode,
// --tls-cipher-suites, ...) replaces its default on its first occurrence
// and accumulates on later ones; --feature-gates merges its key=value maps,
// a later key overriding an earlier one.
type Flags struct {
	m map[string]Setting
	// scalars are list flags of other components that are scalar in
	// this one (see NewFlags).
	scalars map[string]bool
}

// NewFlags returns the empty flags of a component. A flag name can be a
// list in one component and a scalar in another: the API server's
// --authorization-mode is a list (given twice, the values accumulate),
// the kubelet's a string (the last value wins).
func NewFlags(c ComponentName) Flags { return Flags{scalars: scalarFlags[c]} }

// scalarFlags are, per component, the names of listFlags that the
// component declares as plain strings.
var scalarFlags = map[ComponentName]map[string]bool{
	Kubelet: {"authorization-mode": true},
}

// listFlags are the pflag StringSlice and StringArray flags of the
// Kubernetes components audited: repeated occurrences accumulate.
var listFlags = map[string]bool{
	"enable-admission-plugins": true, "disable-admission-plugins": true, "admission-control": true,
	"authorization-mode": true, "tls-cipher-suites": true, "etcd-servers": true, "etcd-servers-overrides": true,
	"api-audiences": true, "service-account-key-file": true, "service-account-issuer": true,
	"cors-allowed-origins": true, "kubelet-preferred-address-types": true, "controllers": true,
	"cluster-dns": true, "allowed-unsafe-sysctls": true,
}

// normaliseName strips leading dashes and, as the Kubernetes components'
// flag sets do (cliflag.WordSepNormalizeFunc), reads '_' as '-'.
func normaliseName(name string) string {
	return strings.TrimLeft(strings.ReplaceAll(name, "_", "-"), "-")
}

// Set records a flag value from a source, replacing any earlier value.
func (f *Flags) Set(name, value, source string) {
	if f.m == nil {
		f.m = map[string]Setting{}
	}
	f.m[normaliseName(name)] = Setting{Value: value, Source: source}
}

// Unset removes a flag.
func (f *Flags) Unset(name string) { delete(f.m, normaliseName(name)) }

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

// Bool returns a boolean flag as the component parses it
// (strconv.ParseBool: 1, t, true, TRUE, 0, f, false, ...). set is false
// when the flag is absent; err is set when its value is not a boolean,
// which the component refuses at start.
func (f *Flags) Bool(name string) (value, set bool, err error) {
	s, ok := f.m[name]
	if !ok {
		return false, false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s.Value))
	if err != nil {
		return false, true, fmt.Errorf("--%s=%q is not a boolean", name, s.Value)
	}
	return b, true, nil
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

// Part is a piece of one command line and where it came from (a kubelet's
// command line is assembled from several systemd environment variables).
type Part struct {
	Args   []Arg
	Source string
}

// Merge applies one command line (as parsed by ParseArgs) from source over
// the flags set so far.
func (f *Flags) Merge(args []Arg, source string) { f.MergeLine(Part{args, source}) }

// MergeLine applies one command line, made of parts, over the flags set so
// far (defaults, or an earlier configuration layer). K3s's and RKE2's
// "name+=value" and "name-=value" items are resolved into a plain command
// line by RancherLine before they get here.
func (f *Flags) MergeLine(parts ...Part) {
	seen := map[string]bool{}
	for _, p := range parts {
		for _, a := range p.Args {
			name := normaliseName(a.Name)
			if name == "" {
				continue
			}
			prev, had := f.Lookup(name)
			v := a.Value
			switch {
			case name == "feature-gates" && had && seen[name]:
				v = mergeGates(prev.Value, v)
			case listFlags[name] && !f.scalars[name] && had && seen[name] && prev.Value != "":
				v = prev.Value + "," + v
			}
			seen[name] = true
			f.Set(name, v, p.Source)
		}
	}
}

// Locate sets the line of every flag whose value came from source, from
// the text of that file: the last line naming the flag.
func (f *Flags) Locate(source string, data []byte) {
	lines := strings.Split(string(data), "\n")
	for name, s := range f.m {
		if s.Source != source {
			continue
		}
		for i := len(lines) - 1; i >= 0; i-- {
			if lineNames(lines[i], name) {
				s.Line = i + 1
				f.m[name] = s
				break
			}
		}
	}
}

// lineNames reports whether a line sets the flag: "--name", "-name=",
// "name=" (a k3s *-arg item) or "name:" (a YAML key), not as the end of a
// longer name (--requestheader-client-ca-file is not --client-ca-file).
func lineNames(line, name string) bool {
	for _, pat := range []string{"--" + name, "-" + name + "=", name + "=", name + ":"} {
		for from := 0; from < len(line); {
			i := strings.Index(line[from:], pat)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			if i > 0 && isFlagChar(line[i-1]) {
				continue
			}
			end := i + len(pat)
			last := pat[len(pat)-1]
			if last == '=' || last == ':' || end == len(line) || !isFlagChar(line[end]) {
				return true
			}
		}
	}
	return false
}

func isFlagChar(b byte) bool {
	return b == '-' || b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// FeatureGates parses a --feature-gates value ("A=true,B=false"). Since
// Kubernetes 1.34 a gate may name its component ("kube:A=true"); gates of
// other components (an embedded etcd's) are left out. Values are returned
// as written; the caller reads them as booleans.
func FeatureGates(v string) map[string]string {
	out := map[string]string{}
	for _, g := range listValue(v) {
		name, val, _ := strings.Cut(g, "=")
		name = strings.TrimSpace(name)
		if comp, gate, ok := strings.Cut(name, ":"); ok {
			if comp != "kube" {
				continue
			}
			name = gate
		}
		out[name] = strings.TrimSpace(val)
	}
	return out
}

// mergeGates applies a later --feature-gates value over an earlier one,
// keeping the order of first appearance.
func mergeGates(prev, next string) string {
	var order []string
	vals := map[string]string{}
	for _, s := range []string{prev, next} {
		for _, g := range listValue(s) {
			name, val, _ := strings.Cut(g, "=")
			name = strings.TrimSpace(name)
			if _, ok := vals[name]; !ok {
				order = append(order, name)
			}
			vals[name] = strings.TrimSpace(val)
		}
	}
	parts := make([]string, 0, len(order))
	for _, n := range order {
		parts = append(parts, n+"="+vals[n])
	}
	return strings.Join(parts, ",")
}

// Arg is one --name=value of a command line.
type Arg struct{ Name, Value string }

// Syntax is the flag syntax of a component's command line.
type Syntax int

// Flag syntaxes.
const (
	// PFlag is spf13/pflag, used by every Kubernetes component and k3s:
	// long flags take two dashes; a single dash starts shorthand letters
	// (only -v exists); a boolean flag takes a value only as --name=value.
	PFlag Syntax = iota
	// GoFlag is Go's flag package, used by etcd: one or two dashes.
	GoFlag
)

// ParseArgs reads a command line with pflag syntax (see ParseCommandLine),
// dropping what it does not understand.
func ParseArgs(tokens []string) []Arg {
	args, _ := ParseCommandLine(tokens, PFlag)
	return args
}

// ParseCommandLine reads flags the way the component's parser does:
// --name=value, --name value (not for boolean flags), a bare --name (a
// boolean, true); "--" ends the flags; positional words (a subcommand such
// as "server") are skipped. Tokens the component would refuse or read
// differently from what was likely meant are returned as warnings: a
// single-dash long flag under pflag (-anonymous-auth=false is a cluster of
// unknown shorthands), and a bare boolean flag followed by true or false
// (--anonymous-auth false sets it to true).
func ParseCommandLine(tokens []string, syntax Syntax) (args []Arg, warnings []string) {
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		if t == "--" {
			break
		}
		if !strings.HasPrefix(t, "-") || t == "-" {
			continue
		}
		if syntax == PFlag && !strings.HasPrefix(t, "--") {
			short := strings.TrimPrefix(t, "-")
			if short != "v" && !strings.HasPrefix(short, "v=") {
				warnings = append(warnings, fmt.Sprintf("%q: a single dash starts shorthand flags in Kubernetes components, so this is not --%s; the component refuses to start", t, strings.SplitN(short, "=", 2)[0]))
				continue
			}
		}
		name := strings.TrimLeft(t, "-")
		if normaliseName(strings.SplitN(name, "=", 2)[0]) == "" {
			continue
		}
		if n, v, ok := strings.Cut(name, "="); ok {
			if n != "" {
				args = append(args, Arg{n, v})
			}
			continue
		}
		if boolFlags[normaliseName(name)] {
			if i+1 < len(tokens) {
				if _, err := strconv.ParseBool(tokens[i+1]); err == nil {
					warnings = append(warnings, fmt.Sprintf("%q %q: a boolean flag takes its value only as %s=%s; this sets it to true and leaves %q as an argument", t, tokens[i+1], t, tokens[i+1], tokens[i+1]))
				}
			}
			args = append(args, Arg{name, "true"})
			continue
		}
		if i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1], "-") {
			args = append(args, Arg{name, tokens[i+1]})
			i++
			continue
		}
		args = append(args, Arg{name, "true"})
	}
	return args, warnings
}

// boolFlags are the boolean flags of the components audited (Kubernetes,
// etcd, k3s): they never take the next word as their value.
var boolFlags = map[string]bool{
	"anonymous-auth": true, "profiling": true, "contention-profiling": true, "allow-privileged": true,
	"client-cert-auth": true, "peer-client-cert-auth": true, "auto-tls": true, "peer-auto-tls": true,
	"rotate-certificates": true, "rotate-server-certificates": true, "protect-kernel-defaults": true,
	"use-service-account-credentials": true, "service-account-lookup": true, "service-account-extend-token-expiration": true,
	"enable-bootstrap-token-auth": true, "enable-aggregator-routing": true, "enable-priority-and-fairness": true,
	"enable-garbage-collector": true, "leader-elect": true, "make-iptables-util-chains": true, "fail-swap-on": true,
	"serialize-image-pulls": true, "enable-debugging-handlers": true, "enable-server": true, "seccomp-default": true,
	"cgroups-per-qos": true, "register-node": true, "watch-cache": true, "enable-logs-handler": true,
	"allocate-node-cidrs": true, "configure-cloud-routes": true, "enable-hostpath-provisioner": true,
	"authentication-skip-lookup": true, "exit-on-lock-contention": true, "help": true, "strict-reconfig-check": true,
	"enable-pprof": true, "force-new-cluster": true, "enable-v2": true, "enable-grpc-gateway": true,
	"cluster-init": true, "secrets-encryption": true, "disable-agent": true, "disable-apiserver": true,
	"disable-controller-manager": true, "disable-scheduler": true, "disable-etcd": true, "disable-kube-proxy": true,
	"kubelet-https": true, "logtostderr": true, "alsologtostderr": true,
}

// removedFlags are flags that Kubernetes 1.37's components no longer
// accept: a command line with one does not start, so it is not what runs.
var removedFlags = map[ComponentName]map[string]string{
	APIServer: {"insecure-port": "1.24", "insecure-bind-address": "1.24", "port": "1.24", "address": "1.24",
		"kubelet-https": "1.22", "basic-auth-file": "1.19", "experimental-encryption-provider-config": "1.14",
		"enable-swagger-ui": "1.14", "repair-malformed-updates": "1.14",
		"log-dir": "1.26", "log-file": "1.26", "logtostderr": "1.26", "alsologtostderr": "1.26"},
	ControllerManager: {"port": "1.24", "address": "1.24", "log-dir": "1.26", "logtostderr": "1.26", "alsologtostderr": "1.26"},
	Scheduler: {"port": "1.24", "address": "1.24", "algorithm-provider": "1.23", "policy-config-file": "1.23",
		"log-dir": "1.26", "logtostderr": "1.26", "alsologtostderr": "1.26"},
	Kubelet: {"network-plugin": "1.24", "cni-bin-dir": "1.24", "cni-conf-dir": "1.24", "docker-endpoint": "1.24",
		"container-runtime": "1.27", "experimental-dockershim": "1.24",
		"log-dir": "1.26", "logtostderr": "1.26", "alsologtostderr": "1.26"},
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
	return ParseArgs(ArgsFileTokens(data, vars))
}

// ArgsFileTokens returns the words of a MicroK8s args file.
func ArgsFileTokens(data []byte, vars map[string]string) []string {
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
	return tokens
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
			Env     []struct {
				Name      string          `json:"name"`
				Value     string          `json:"value"`
				ValueFrom json.RawMessage `json:"valueFrom"`
			} `json:"env"`
		} `json:"containers"`
		Volumes []struct {
			HostPath *struct {
				Path string `json:"path"`
			} `json:"hostPath"`
		} `json:"volumes"`
	} `json:"spec"`
}

// ParseStaticPod returns the command line (command then args) of the first
// container of a static Pod manifest, as kubeadm writes them, with the
// kubelet's "$(NAME)" references to the container's env expanded as the
// kubelet expands them ("$$" is a "$"; a name the env does not define
// stays as written). A reference to a variable set through valueFrom is
// an error: its value is only known at run time, and a flag read as
// "$(NAME)" would pass checks it fails.
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
	env := map[string]string{}
	fromRef := map[string]bool{}
	for _, e := range c.Env {
		if len(e.ValueFrom) > 0 && string(e.ValueFrom) != "null" {
			fromRef[e.Name], env[e.Name] = true, ""
			continue
		}
		// Like the kubelet, an env value may use the variables before it.
		v, unknown := expandRefs(e.Value, env, fromRef)
		env[e.Name], fromRef[e.Name] = v, unknown != ""
	}
	words := append(append([]string{}, c.Command...), c.Args...)
	for i, w := range words {
		v, unknown := expandRefs(w, env, fromRef)
		if unknown != "" {
			return nil, fmt.Errorf("parse static pod: container %q: %q uses $(%s), set from valueFrom: its value is known only at run time", c.Name, w, unknown)
		}
		words[i] = v
	}
	return words, nil
}

// expandRefs expands "$(NAME)" in s as the kubelet does for a container's
// command and args (k8s.io/kubernetes third_party expansion): "$$" is "$",
// a defined NAME is its value, any other "$(...)" or "$" stays. unknown is
// the first name whose value fromRef says is not known.
func expandRefs(s string, env map[string]string, fromRef map[string]bool) (out, unknown string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), unknown
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok && name != "" {
				if fromRef[name] && unknown == "" {
					unknown = name
				}
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
			continue
		}
		b.WriteByte('$')
	}
	return b.String(), unknown
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

// RancherLine builds the command line K3s and RKE2 start an embedded
// component (or RKE2 its kubelet) with, from the distribution's own flags
// (initial, one value per flag, a later part's value replacing an earlier
// one) and the items of a config key such as kube-apiserver-arg (extra, in
// order), the way k3s's util.GetArgs does (k3s-io/k3s pkg/util/args.go):
//
//   - "name=value" drops the distribution's own value of that flag; a
//     second "name=value" item adds a second --name=value;
//   - "name+=value" appends: --name=<own value> --name=<earlier items>
//     --name=value;
//   - "name-=value" prepends: --name=value --name=<own value>
//     --name=<earlier items>. It does not remove anything.
//
// The flags come out sorted by name, each value as its own --name=value,
// so the component's flag parser then decides: the last value of a scalar
// flag wins (a prepended value loses to k3s's own), list flags accumulate.
// Each part of the result is one flag with the source it came from.
func RancherLine(initial []Part, extra []Arg, extraSource string) []Part {
	type value struct{ v, source string }
	own := map[string]value{}
	for _, p := range initial {
		for _, a := range p.Args {
			own[normaliseName(a.Name)] = value{a.Value, p.Source}
		}
	}
	multi := map[string][]value{}
	for _, a := range extra {
		name := strings.TrimRight(a.Name, "+-")
		if name == "" {
			continue
		}
		name = normaliseName(name)
		item := value{a.Value, extraSource}
		initial, hasInitial := own[name]
		var vs []value
		switch {
		case strings.HasSuffix(a.Name, "+"):
			if hasInitial {
				vs = append(vs, initial)
			}
			vs = append(append(vs, multi[name]...), item)
		case strings.HasSuffix(a.Name, "-"):
			vs = append(vs, item)
			if hasInitial {
				vs = append(vs, initial)
			}
			vs = append(vs, multi[name]...)
		default:
			vs = append(append(vs, multi[name]...), item)
		}
		delete(own, name)
		multi[name] = vs
	}
	for name, v := range own {
		multi[name] = []value{v}
	}
	names := make([]string, 0, len(multi))
	for name := range multi {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Part
	for _, name := range names {
		for _, v := range multi[name] {
			out = append(out, Part{Args: []Arg{{name, v.v}}, Source: v.source})
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
