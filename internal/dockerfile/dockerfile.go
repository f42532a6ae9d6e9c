// Package dockerfile parses Dockerfiles into stages and instructions with
// their lines, using BuildKit's parser, for the Dockerfile rules.
//
// The model is deliberately flat and read-only: rules walk stages and
// instructions and never need BuildKit types. Syntax (continuation lines,
// heredocs, quoting, the escape directive) is BuildKit's; this package only
// arranges the parse tree into stages.
package dockerfile

import "strings"

// File is a parsed Dockerfile.
type File struct {
	Path string
	// Args are the ARG instructions before the first FROM.
	Args   []Instruction
	Stages []*Stage
	// EscapeToken is the escape character in effect ('\\' unless the
	// "# escape=`" directive changed it).
	EscapeToken rune
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	Index int
	// Name is the "AS name" alias, if any, lower-cased as BuildKit treats
	// stage names case-insensitively.
	Name string
	// BaseImage is the image reference after FROM, with build args as written.
	BaseImage string
	// Platform is the --platform flag of FROM, as written.
	Platform string
	// Line is the line of the FROM instruction.
	Line int
	// From is the FROM instruction itself; it is not in Instructions.
	From         Instruction
	Instructions []Instruction
}

// Instruction is one Dockerfile instruction.
type Instruction struct {
	// Command is the lower-case instruction name ("run", "env" ...).
	Command string
	// Args are the instruction's arguments as BuildKit split them. For the
	// shell form of RUN, CMD and ENTRYPOINT this is one string holding the
	// whole command line; for the exec (JSON) form, one element per word.
	Args []string
	// Flags are the --flags given to the instruction, as written
	// ("--mount=type=cache,target=/root/.cache").
	Flags []string
	// Heredocs holds the bodies of heredocs (RUN <<EOF ...), in order.
	Heredocs []string
	// Original is the instruction as written, continuation lines joined.
	Original  string
	StartLine int
	EndLine   int
	// JSON reports the exec form (RUN ["a", "b"]).
	JSON bool
	// KeyValues are the pairs of ENV, ARG and LABEL, in order.
	KeyValues []KeyValue
	// OnBuild is the trigger instruction of an ONBUILD; it carries the
	// ONBUILD's lines.
	OnBuild *Instruction
}

// KeyValue is one NAME=value pair of ENV, ARG or LABEL.
type KeyValue struct {
	Key string
	// Value has its quotes removed. Variable references are kept, written
	// as ${NAME}, because their values are not known to a static scan.
	Value string
	// HasValue is false for an ARG without a default ("ARG VERSION").
	HasValue bool
	// raw is the value as written, for evaluating ARG defaults.
	raw string
}

// Flag returns the value of the first --name flag and whether it was given.
// A flag given without "=value" (such as --link) has the value "".
func (in *Instruction) Flag(name string) (string, bool) {
	for _, v := range in.FlagValues(name) {
		return v, true
	}
	return "", false
}

// FlagValues returns the values of every --name flag, in order; RUN may
// repeat --mount.
func (in *Instruction) FlagValues(name string) []string {
	var out []string
	for _, f := range in.Flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if strings.EqualFold(k, name) {
			out = append(out, v)
		}
	}
	return out
}

// Final returns the last stage, the one `docker build` produces when no
// --target is given; nil for a file with no stages.
func (f *File) Final() *Stage {
	if len(f.Stages) == 0 {
		return nil
	}
	return f.Stages[len(f.Stages)-1]
}
