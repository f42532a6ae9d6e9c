package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Parse parses a Dockerfile read from path. The caller bounds the size of
// content (the loader caps inputs at 1 MiB); Parse itself never panics on
// malformed input and its errors name the file and, when known, the line.
//
// Parse is stricter than BuildKit's parser alone in the ways `docker build`
// is: instructions other than ARG before the first FROM, a FROM without an
// image, and a file without any FROM are errors, since such a file cannot
// be built. Unknown instructions are kept (with their lower-cased name) and
// ignored by the rules, as BuildKit's parser keeps them.
func Parse(path string, content []byte) (f *File, err error) {
	// BuildKit's parser is third-party code run on untrusted input; a panic
	// in it must cost one file, not the whole scan.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: Dockerfile parser failed: %v", path, r)
		}
	}()
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, locate(path, err)
	}
	f = &File{Path: path, EscapeToken: res.EscapeToken}
	lex := shell.NewLex(res.EscapeToken)
	var stage *Stage
	for _, n := range res.AST.Children {
		in := convert(n, lex)
		if in.Command == "from" {
			stage, err = newStage(path, len(f.Stages), in)
			if err != nil {
				return nil, err
			}
			f.Stages = append(f.Stages, stage)
			continue
		}
		if stage == nil {
			if in.Command != "arg" {
				return nil, fmt.Errorf("%s:%d: %s instruction before the first FROM (only ARG may come first)",
					path, in.StartLine, strings.ToUpper(in.Command))
			}
			f.Args = append(f.Args, in)
			continue
		}
		stage.Instructions = append(stage.Instructions, in)
	}
	if len(f.Stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction, so there is no build stage", path)
	}
	return f, nil
}

// locate prefixes a BuildKit parser error with the file and the first line
// it points at.
func locate(path string, err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, ranges := range le.Locations {
			if len(ranges) > 0 && ranges[0].Start.Line > 0 {
				return fmt.Errorf("%s:%d: %w", path, ranges[0].Start.Line, err)
			}
		}
	}
	return fmt.Errorf("%s: %w", path, err)
}

// newStage reads "FROM [--platform=p] image [AS name]".
func newStage(path string, index int, from Instruction) (*Stage, error) {
	s := &Stage{Index: index, Line: from.StartLine, From: from}
	s.Platform, _ = from.Flag("platform")
	switch {
	case len(from.Args) == 1:
	case len(from.Args) == 3 && strings.EqualFold(from.Args[1], "as"):
		s.Name = strings.ToLower(from.Args[2])
	default:
		return nil, fmt.Errorf("%s:%d: FROM wants an image and an optional \"AS name\", got %q",
			path, from.StartLine, strings.Join(from.Args, " "))
	}
	s.BaseImage = from.Args[0]
	return s, nil
}

// convert copies one parse-tree node into an Instruction.
func convert(n *parser.Node, lex *shell.Lex) Instruction {
	in := Instruction{
		Command:   strings.ToLower(n.Value),
		Flags:     n.Flags,
		Original:  n.Original,
		StartLine: n.StartLine,
		EndLine:   n.EndLine,
		JSON:      n.Attributes["json"],
	}
	switch in.Command {
	case "env", "label":
		// BuildKit encodes each pair as three nodes: key, value, separator.
		for k := n.Next; k != nil && k.Next != nil; k = k.Next.Next.Next {
			raw := k.Next.Value
			in.KeyValues = append(in.KeyValues, KeyValue{Key: k.Value, Value: unquote(lex, raw), HasValue: true, raw: raw})
			in.Args = append(in.Args, k.Value+"="+raw)
			if k.Next.Next == nil {
				break
			}
		}
	case "arg":
		for w := n.Next; w != nil; w = w.Next {
			key, raw, hasValue := strings.Cut(w.Value, "=")
			kv := KeyValue{Key: key, HasValue: hasValue, raw: raw}
			if hasValue {
				kv.Value = unquote(lex, raw)
			}
			in.KeyValues = append(in.KeyValues, kv)
			in.Args = append(in.Args, w.Value)
		}
	case "onbuild":
		if n.Next != nil && len(n.Next.Children) > 0 {
			child := n.Next.Children[0]
			trigger := convert(child, lex)
			trigger.StartLine, trigger.EndLine = n.StartLine, n.EndLine
			in.OnBuild = &trigger
			in.Args = []string{child.Original}
		}
	default:
		for w := n.Next; w != nil; w = w.Next {
			in.Args = append(in.Args, w.Value)
		}
	}
	for _, h := range n.Heredocs {
		in.Heredocs = append(in.Heredocs, h.Content)
	}
	return in
}

// keepReferences answers every variable lookup with the reference itself,
// so that unquoting a value leaves "$NAME" and "${NAME}" recognisable as
// references instead of expanding them to "".
type keepReferences struct{}

func (keepReferences) Get(name string) (string, bool) { return "${" + name + "}", true }
func (keepReferences) Keys() []string                 { return nil }

// unquote removes shell quoting from an ENV/ARG/LABEL value with BuildKit's
// lexer; a value the lexer rejects (an unclosed quote) is returned as written.
func unquote(lex *shell.Lex, raw string) string {
	v, _, err := lex.ProcessWord(raw, keepReferences{})
	if err != nil {
		return raw
	}
	return v
}

// argValues holds the known values of global ARGs while resolving FROM.
type argValues struct {
	values  map[string]string
	unknown map[string]bool
}

func (a *argValues) Get(name string) (string, bool) {
	v, ok := a.values[name]
	return v, ok
}

func (a *argValues) Keys() []string {
	keys := make([]string, 0, len(a.values))
	for k := range a.values {
		keys = append(keys, k)
	}
	return keys
}

// globalArgs evaluates the defaults of the ARGs before the first FROM, in
// order, as BuildKit does (a default may use an earlier ARG). An ARG
// without a default, or whose default uses one, is unknown: its value only
// exists at build time.
func (f *File) globalArgs(lex *shell.Lex) *argValues {
	a := &argValues{values: map[string]string{}, unknown: map[string]bool{}}
	for _, in := range f.Args {
		for _, kv := range in.KeyValues {
			if !kv.HasValue {
				if _, ok := a.values[kv.Key]; !ok {
					a.unknown[kv.Key] = true
				}
				continue
			}
			v, ok := a.expand(lex, kv.raw)
			if !ok {
				a.unknown[kv.Key] = true
				delete(a.values, kv.Key)
				continue
			}
			a.values[kv.Key] = v
			delete(a.unknown, kv.Key)
		}
	}
	return a
}

func (a *argValues) usesUnknown(names map[string]struct{}) bool {
	for n := range names {
		if a.unknown[n] {
			return true
		}
	}
	return false
}

// ResolveBaseImage expands $VAR and ${VAR} in the stage's FROM image from
// the defaults of the global ARGs. known is false when the reference uses
// an ARG whose value is only set at build time (no default, or a built-in
// such as TARGETPLATFORM); ref is then the best effort expansion and rules
// should not judge it.
func (f *File) ResolveBaseImage(s *Stage) (ref string, known bool) {
	if !strings.Contains(s.BaseImage, "$") {
		return s.BaseImage, true
	}
	lex := shell.NewLex(f.escapeToken())
	args := f.globalArgs(lex)
	if tooLong(s.BaseImage) {
		return s.BaseImage, false
	}
	res, err := lex.ProcessWordWithMatches(s.BaseImage, args)
	if err != nil {
		return s.BaseImage, false
	}
	return res.Result, len(res.Unmatched) == 0 && !args.usesUnknown(res.Matched) && res.Result != ""
}

// maxValue bounds a variable's expanded value, and tooLong the expansion
// of a word: a hostile Dockerfile doubling a value with each ARG or ENV
// ("ENV X=$X$X" sixty times) would otherwise build strings of exabytes.
// A value past the bound is unknown, and rules do not judge it.
const maxValue = 1 << 10

// tooLong reports whether expanding word could exceed 64 KiB: each
// reference adds at most maxValue bytes.
func tooLong(word string) bool {
	return len(word)+strings.Count(word, "$")*maxValue > 64<<10
}

// expand expands word with the values known so far; ok is false when it
// uses an unknown or unset variable, or its value exceeds maxValue.
func (a *argValues) expand(lex *shell.Lex, word string) (string, bool) {
	if tooLong(word) {
		return "", false
	}
	res, err := lex.ProcessWordWithMatches(word, a)
	if err != nil || len(res.Unmatched) > 0 || a.usesUnknown(res.Matched) || len(res.Result) > maxValue {
		return "", false
	}
	return res.Result, true
}

func (f *File) escapeToken() rune {
	if f.EscapeToken == 0 {
		return '\\'
	}
	return f.EscapeToken
}

// BaseStage returns the earlier stage that s builds on ("FROM build"), or
// nil when s starts from an image. Stage names are case-insensitive.
func (f *File) BaseStage(s *Stage) *Stage {
	ref, _ := f.ResolveBaseImage(s)
	ref = strings.ToLower(ref)
	for _, prev := range f.Stages {
		if prev.Index >= s.Index {
			break
		}
		if prev.Name != "" && prev.Name == ref {
			return prev
		}
	}
	return nil
}

// ExpandInStage expands $VAR and ${VAR} in word as BuildKit would for the
// instruction at index at of stage s, with the build's defaults: the ENV
// of the stage and of the stages it builds on, the stage's ARG defaults,
// and global ARGs the stage declares again without a default. known is
// false when word uses a variable whose value only exists at build time
// (an ARG without a default, a built-in such as TARGETPLATFORM) or that is
// not set at all; word is then returned as written and rules should not
// judge it. An ARG default can be overridden with --build-arg: the value
// returned is what a build without one produces.
func (f *File) ExpandInStage(s *Stage, at int, word string) (value string, known bool) {
	if !strings.Contains(word, "$") {
		return word, true
	}
	lex := shell.NewLex(f.escapeToken())
	vars, _ := f.stageVars(lex, s, at, 0)
	v, ok := vars.expand(lex, word)
	if !ok {
		return word, false
	}
	return v, true
}

// maxStageDepth bounds the walk through "FROM earlier-stage" chains; a
// chain longer than the stages there are cannot occur, so this only guards
// against a malformed model.
const maxStageDepth = 64

// stageVars evaluates the variables in scope before instruction at of s,
// and names those set by ENV. ENV values carry over from the stage s
// builds on; ARG values do not.
func (f *File) stageVars(lex *shell.Lex, s *Stage, at, depth int) (*argValues, map[string]bool) {
	vars := &argValues{values: map[string]string{}, unknown: map[string]bool{}}
	env := map[string]bool{}
	if base := f.BaseStage(s); base != nil && depth < maxStageDepth {
		inherited, baseEnv := f.stageVars(lex, base, len(base.Instructions), depth+1)
		for k := range baseEnv {
			env[k] = true
			if v, ok := inherited.values[k]; ok {
				vars.values[k] = v
			} else {
				vars.unknown[k] = true
			}
		}
	}
	var global *argValues
	for i := 0; i < at && i < len(s.Instructions); i++ {
		in := &s.Instructions[i]
		if in.Command != "arg" && in.Command != "env" {
			continue
		}
		for _, kv := range in.KeyValues {
			if in.Command == "env" {
				env[kv.Key] = true
			} else if env[kv.Key] {
				// An ENV of the same name overrides an ARG, before or after it.
				continue
			}
			if in.Command == "arg" && !kv.HasValue {
				if global == nil {
					global = f.globalArgs(lex)
				}
				if v, ok := global.values[kv.Key]; ok {
					vars.values[kv.Key] = v
					delete(vars.unknown, kv.Key)
				} else {
					delete(vars.values, kv.Key)
					vars.unknown[kv.Key] = true
				}
				continue
			}
			v, ok := vars.expand(lex, kv.raw)
			if !ok {
				delete(vars.values, kv.Key)
				vars.unknown[kv.Key] = true
				continue
			}
			vars.values[kv.Key] = v
			delete(vars.unknown, kv.Key)
		}
	}
	return vars, env
}
