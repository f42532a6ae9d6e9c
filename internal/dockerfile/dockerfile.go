// Package dockerfile parses Dockerfiles into stages and instructions with
// their lines, using BuildKit's parser, for the Dockerfile rules.
package dockerfile

// File is a parsed Dockerfile.
type File struct {
	Path string
	// Args are the ARG instructions before the first FROM.
	Args   []Instruction
	Stages []*Stage
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	Index int
	// Name is the "AS name" alias, if any.
	Name string
	// BaseImage is the image reference after FROM, with build args as written.
	BaseImage    string
	Platform     string
	Line         int
	Instructions []Instruction
}

// Instruction is one Dockerfile instruction.
type Instruction struct {
	// Command is the lower-case instruction name ("run", "env" ...).
	Command string
	// Args are the instruction's arguments as BuildKit split them.
	Args []string
	// Flags are the --flags given to the instruction.
	Flags []string
	// Heredocs holds the bodies of heredocs (RUN <<EOF ...).
	Heredocs []string
	// Original is the instruction as written, continuation lines joined.
	Original  string
	StartLine int
	EndLine   int
}
