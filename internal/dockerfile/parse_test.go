package dockerfile

import (
	"reflect"
	"strings"
	"testing"
)

const multiStage = `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26
ARG BASE=golang:${GO_VERSION}-alpine
ARG RUNTIME
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
ENV CGO_ENABLED=0 GREETING="hello world" \
    LEGACY_FORM=1
RUN --mount=type=cache,target=/root/.cache \
    --mount=type=bind,target=. \
    go build -o /out/app .
RUN <<EOF
set -e
echo built
EOF
ONBUILD RUN echo triggered

FROM gcr.io/distroless/static:nonroot
ARG VERSION
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app", "serve"]
`

func TestParseMultiStage(t *testing.T) {
	f, err := Parse("Dockerfile", []byte(multiStage))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Args) != 3 || f.Args[0].KeyValues[0] != (KeyValue{Key: "GO_VERSION", Value: "1.26", HasValue: true, raw: "1.26"}) {
		t.Fatalf("global args = %+v", f.Args)
	}
	if f.Args[2].KeyValues[0].HasValue {
		t.Errorf("ARG RUNTIME has no default, got %+v", f.Args[2].KeyValues[0])
	}
	if len(f.Stages) != 2 {
		t.Fatalf("got %d stages", len(f.Stages))
	}
	build, final := f.Stages[0], f.Stages[1]
	if build.Name != "build" || build.BaseImage != "${BASE}" || build.Platform != "$BUILDPLATFORM" || build.Line != 5 {
		t.Errorf("build stage = %+v", build)
	}
	if final != f.Final() || final.Index != 1 || final.Name != "" || final.Line != 17 {
		t.Errorf("final stage = %+v", final)
	}
	if ref, known := f.ResolveBaseImage(build); ref != "golang:1.26-alpine" || !known {
		t.Errorf("ResolveBaseImage(build) = %q, %v", ref, known)
	}

	env := build.Instructions[0]
	wantKV := []KeyValue{
		{Key: "CGO_ENABLED", Value: "0", HasValue: true, raw: "0"},
		{Key: "GREETING", Value: "hello world", HasValue: true, raw: `"hello world"`},
		{Key: "LEGACY_FORM", Value: "1", HasValue: true, raw: "1"},
	}
	if env.Command != "env" || env.StartLine != 6 || env.EndLine != 7 || !reflect.DeepEqual(env.KeyValues, wantKV) {
		t.Errorf("ENV = %+v", env)
	}
	run := build.Instructions[1]
	if run.StartLine != 8 || run.EndLine != 10 || len(run.FlagValues("mount")) != 2 {
		t.Errorf("RUN = %+v", run)
	}
	if v, ok := run.Flag("mount"); !ok || v != "type=cache,target=/root/.cache" {
		t.Errorf("Flag(mount) = %q, %v", v, ok)
	}
	heredoc := build.Instructions[2]
	if heredoc.StartLine != 11 || heredoc.EndLine != 14 || len(heredoc.Heredocs) != 1 || heredoc.Heredocs[0] != "set -e\necho built\n" {
		t.Errorf("heredoc RUN = %+v", heredoc)
	}
	onbuild := build.Instructions[3]
	if onbuild.OnBuild == nil || onbuild.OnBuild.Command != "run" || onbuild.OnBuild.StartLine != 15 ||
		onbuild.OnBuild.Args[0] != "echo triggered" {
		t.Errorf("ONBUILD = %+v", onbuild)
	}

	arg := final.Instructions[0]
	if arg.Command != "arg" || arg.KeyValues[0].Key != "VERSION" || arg.KeyValues[0].HasValue {
		t.Errorf("stage ARG = %+v", arg)
	}
	entry := final.Instructions[3]
	if !entry.JSON || !reflect.DeepEqual(entry.Args, []string{"/app", "serve"}) || entry.StartLine != 21 {
		t.Errorf("ENTRYPOINT = %+v", entry)
	}
	if f.BaseStage(final) != nil {
		t.Errorf("final stage starts from an image, not a stage")
	}
}

func TestResolveBaseImage(t *testing.T) {
	tests := []struct {
		name, src string
		wantRef   string
		wantKnown bool
	}{
		{"literal", "FROM alpine:3.20\n", "alpine:3.20", true},
		{"braces", "ARG V=3.20\nFROM alpine:${V}\n", "alpine:3.20", true},
		{"bare dollar", "ARG IMG=debian\nFROM $IMG\n", "debian", true},
		{"no default", "ARG IMG\nFROM $IMG\n", "", false},
		{"undeclared", "FROM ${NOPE}:1\n", ":1", false},
		{"built-in platform arg", "FROM alpine:${TARGETARCH}\n", "alpine:", false},
		{"default uses unknown", "ARG A\nARG B=x${A}\nFROM img:$B\n", "img:", false},
		{"later arg wins", "ARG T=1\nARG T=2\nFROM img:$T\n", "img:2", true},
		{"fallback default", "ARG T\nFROM img:${T:-3}\n", "img:3", false},
		// Each ARG doubles the last: before values were bounded, resolving
		// FROM built a string of 16 << 60 bytes.
		{"doubling bomb", "ARG X=aaaaaaaaaaaaaaaa\n" + strings.Repeat("ARG X=$X$X\n", 60) + "FROM img:$X\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("Dockerfile", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			ref, known := f.ResolveBaseImage(f.Stages[0])
			if known != tt.wantKnown || (known && ref != tt.wantRef) {
				t.Errorf("ResolveBaseImage = %q, %v; want %q, %v", ref, known, tt.wantRef, tt.wantKnown)
			}
		})
	}
}

// TestExpandInStage expands the USER word (the last instruction of the last
// stage) as a build with the default arguments would.
func TestExpandInStage(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
		wantKnown bool
	}{
		{"literal", "FROM a\nUSER app\n", "app", true},
		{"arg default", "FROM a\nARG U=root\nUSER $U\n", "root", true},
		{"arg default braces and group", "FROM a\nARG U=0\nUSER ${U}:${U}\n", "0:0", true},
		{"arg without default", "FROM a\nARG U\nUSER $U\n", "$U", false},
		{"global arg redeclared", "ARG U=root\nFROM a\nARG U\nUSER $U\n", "root", true},
		{"global arg not redeclared", "ARG U=root\nFROM a\nUSER $U\n", "$U", false},
		{"env", "FROM a\nENV APP_USER=10001\nUSER $APP_USER\n", "10001", true},
		{"env from arg", "FROM a\nARG UID=0\nENV U=$UID\nUSER $U\n", "0", true},
		{"env overrides later arg", "FROM a\nENV U=0\nARG U=1000\nUSER $U\n", "0", true},
		{"env inherited from base stage", "FROM a AS base\nENV U=0\nFROM base\nUSER $U\n", "0", true},
		{"env of grand-base stage", "FROM a AS one\nENV U=root\nFROM one AS two\nRUN true\nFROM two\nUSER $U\n", "root", true},
		{"arg not inherited from base stage", "FROM a AS base\nARG U=0\nFROM base\nUSER $U\n", "$U", false},
		{"set after the USER", "FROM a\nUSER $U\nARG U=root\n", "$U", false},
		{"built-in", "FROM a\nUSER $TARGETARCH\n", "$TARGETARCH", false},
		{"doubling bomb", "FROM a\nENV X=aaaaaaaaaaaaaaaa\n" + strings.Repeat("ENV X=$X$X\n", 60) + "USER $X\n", "$X", false},
		{"fallback uses an unset variable", "FROM a\nUSER ${U:-root}\n", "${U:-root}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("Dockerfile", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			s := f.Final()
			at := -1
			for i, in := range s.Instructions {
				if in.Command == "user" {
					at = i
				}
			}
			if at < 0 {
				t.Fatal("no USER in the last stage")
			}
			got, known := f.ExpandInStage(s, at, s.Instructions[at].Args[0])
			if got != tt.want || known != tt.wantKnown {
				t.Errorf("ExpandInStage = %q, %v; want %q, %v", got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestBaseStage(t *testing.T) {
	f, err := Parse("Dockerfile", []byte("FROM alpine:3 AS Base\nFROM base\nFROM BASE AS again\nFROM again\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{-1, 0, 0, 2} {
		got := f.BaseStage(f.Stages[i])
		if (got == nil && want != -1) || (got != nil && got.Index != want) {
			t.Errorf("BaseStage(stage %d) = %+v, want index %d", i, got, want)
		}
	}
}

func TestParseEscapeDirective(t *testing.T) {
	src := "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n    c:\\\n"
	f, err := Parse("Dockerfile.win", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	run := f.Stages[0].Instructions[0]
	if f.EscapeToken != '`' || run.StartLine != 3 || run.EndLine != 4 {
		t.Errorf("escape = %q, RUN = %+v", f.EscapeToken, run)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "Dockerfile.bad:"},
		{"comments only", "# nothing\n", "Dockerfile.bad:"},
		{"no FROM", "ARG A=1\n", "Dockerfile.bad: no FROM"},
		{"RUN before FROM", "ARG A=1\nRUN echo\nFROM alpine\n", "Dockerfile.bad:2: RUN instruction before the first FROM"},
		{"FROM without image", "FROM alpine\nFROM --platform=linux/amd64\n", "Dockerfile.bad:2: FROM wants"},
		{"FROM with junk", "FROM alpine AS a b\n", "Dockerfile.bad:1: FROM wants"},
		{"unterminated heredoc", "FROM alpine\nRUN <<EOF\necho\n", "Dockerfile.bad:2: "},
		{"bad ENV", "FROM alpine\nENV A=1 B\n", "Dockerfile.bad:2: "},
		{"long line", "FROM alpine\nRUN " + strings.Repeat("x", 70_000) + "\n", "Dockerfile.bad:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Dockerfile.bad", []byte(tt.src))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse panic and that what it returns
// is consistent: stages in order, lines inside the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(multiStage))
	f.Add([]byte("FROM alpine\nRUN <<A <<B\na\nA\nb\nB\n"))
	f.Add([]byte("ARG X=${Y:-${Z}}\nFROM ${X#*/}\nENV A=\"unclosed\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for i, s := range file.Stages {
			if s.Index != i || s.Line < 1 || s.Line > lines {
				t.Fatalf("stage %d: index %d line %d of %d", i, s.Index, s.Line, lines)
			}
			_, _ = file.ResolveBaseImage(s)
			_ = file.BaseStage(s)
			for j, in := range s.Instructions {
				for _, a := range in.Args {
					if v, known := file.ExpandInStage(s, j, a); known && len(v) > 64<<10 {
						t.Fatalf("instruction %q: %q expands to %d bytes", in.Command, a, len(v))
					}
				}
				if in.StartLine < s.Line || in.EndLine < in.StartLine || in.EndLine > lines {
					t.Fatalf("instruction %q lines %d-%d outside stage at %d (file has %d)", in.Command, in.StartLine, in.EndLine, s.Line, lines)
				}
			}
		}
	})
}
