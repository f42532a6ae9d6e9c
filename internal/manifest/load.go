package manifest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/palisade-sec/palisade/internal/finding"
)

// StdinPath is the path argument that means standard input.
const StdinPath = "-"

// Limits on whole files: JSON streams are read whole, Dockerfiles too.
const (
	maxJSONFileBytes   = 64 << 20
	maxDockerfileBytes = 1 << 20
	sniffBytes         = 8 << 10
)

// Dockerfile is a Dockerfile found in the input, not yet parsed.
type Dockerfile struct {
	Path    string
	Content []byte
}

// Set is everything read from the input.
type Set struct {
	Objects     []*Object
	Dockerfiles []Dockerfile
	// Problems lists inputs that could not be read (errors) or were
	// skipped on purpose (notes), each with its file and line.
	Problems []finding.Problem
	// Files counts the files read.
	Files int
}

// Options tune loading.
type Options struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Workers parse documents in parallel; 0 means GOMAXPROCS.
	Workers int
	// SkipDockerfiles ignores Dockerfiles found in directories.
	SkipDockerfiles bool
	// Skip, when set, is asked about every path given and every file and
	// directory a walk meets; true leaves it out. Rendered sources (Helm
	// charts, kustomize overlays: internal/render) are skipped this way and
	// read as Streams instead.
	Skip func(path string, isDir bool) bool
	// Streams are read after the paths, each as a file of its own name.
	Streams []Stream
}

// Stream is named input that is not a file on disk, such as the rendered
// output of one Helm chart template.
type Stream struct {
	Name string
	Data []byte
}

// IsManifestFile reports whether a file in a directory walk is read as a manifest.
func IsManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// IsDockerfile reports whether a file name is a Dockerfile or Containerfile
// (Dockerfile, Dockerfile.prod, app.Dockerfile, Containerfile).
func IsDockerfile(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	for _, n := range []string{"dockerfile", "containerfile"} {
		if base == n || strings.HasPrefix(base, n+".") || strings.HasSuffix(base, "."+n) {
			return true
		}
	}
	return false
}

type docJob struct {
	file     string
	fileSeq  int
	docSeq   int
	doc      document
	jsonData bool
}

type docResult struct {
	fileSeq, docSeq int
	objects         []*Object
	problems        []finding.Problem
}

// Load reads every path (files, directories recursively, "-" for stdin).
// It returns an error only when ctx ends; everything else wrong with the
// input is a Problem in the Set, and the rest of the input is still read.
func Load(ctx context.Context, paths []string, opts Options) (*Set, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	set := &Set{}
	jobs := make(chan docJob, 4*workers)
	results := make(chan docResult, 4*workers)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fp fastParser
			for j := range jobs {
				objs, probs := parseDocument(j, &fp)
				results <- docResult{fileSeq: j.fileSeq, docSeq: j.docSeq, objects: objs, problems: probs}
			}
		}()
	}
	var collected []docResult
	done := make(chan struct{})
	go func() {
		for r := range results {
			collected = append(collected, r)
		}
		close(done)
	}()

	r := &reader{ctx: ctx, set: set, jobs: jobs, opts: opts}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		r.readPath(p)
	}
	for _, st := range opts.Streams {
		if ctx.Err() != nil {
			break
		}
		r.readStream(st.Name, bytes.NewReader(st.Data))
	}
	close(jobs)
	wg.Wait()
	close(results)
	<-done
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sort.Slice(collected, func(i, j int) bool {
		if collected[i].fileSeq != collected[j].fileSeq {
			return collected[i].fileSeq < collected[j].fileSeq
		}
		return collected[i].docSeq < collected[j].docSeq
	})
	index := map[string]int{}
	for _, c := range collected {
		for _, o := range c.objects {
			o.Index = index[o.File]
			index[o.File]++
			set.Objects = append(set.Objects, o)
		}
		set.Problems = append(set.Problems, c.problems...)
	}
	sortProblems(set.Problems)
	return set, nil
}

func sortProblems(ps []finding.Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// reader walks the inputs and feeds documents to the parse workers.
type reader struct {
	ctx     context.Context
	set     *Set
	jobs    chan<- docJob
	opts    Options
	fileSeq int
	mu      sync.Mutex
	// br is reused from file to file.
	br *bufio.Reader
}

func (r *reader) problem(file string, line int, level, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set.Problems = append(r.set.Problems, finding.Problem{File: file, Line: line, Level: level, Message: fmt.Sprintf(format, args...)})
}

func (r *reader) readPath(p string) {
	if p == StdinPath {
		if r.opts.Stdin == nil {
			r.problem("<stdin>", 0, finding.LevelError, "no standard input")
			return
		}
		r.readStream("<stdin>", r.opts.Stdin)
		return
	}
	info, err := os.Stat(p)
	if err != nil {
		r.problem(p, 0, finding.LevelError, "%s", describeFSError(err))
		return
	}
	if r.opts.Skip != nil && r.opts.Skip(p, info.IsDir()) {
		return
	}
	if !info.IsDir() {
		if IsDockerfile(p) && !IsManifestFile(p) {
			r.readDockerfile(p)
			return
		}
		r.readFile(p, true)
		return
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if err != nil {
			r.problem(path, 0, finding.LevelError, "%s", describeFSError(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if path != p && r.opts.Skip != nil && r.opts.Skip(path, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			// Hidden directories (.git, .terraform) and vendored trees
			// hold no manifests of this project.
			if path != p && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and devices are not followed in a walk
		}
		switch {
		case IsManifestFile(name):
			r.readFile(path, false)
		case IsDockerfile(name) && !r.opts.SkipDockerfiles:
			r.readDockerfile(path)
		}
		return nil
	})
	if err != nil && r.ctx.Err() == nil {
		r.problem(p, 0, finding.LevelError, "%v", err)
	}
}

func describeFSError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (r *reader) readFile(path string, explicit bool) {
	f, err := os.Open(path)
	if err != nil {
		r.problem(path, 0, finding.LevelError, "%s", describeFSError(err))
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && !info.Mode().IsRegular() && !explicit {
		return
	}
	r.readStream(path, f)
}

func (r *reader) readDockerfile(path string) {
	data, err := readCapped(path, maxDockerfileBytes)
	if err != nil {
		r.problem(path, 0, finding.LevelError, "%v", err)
		return
	}
	if isBinary(data) {
		r.problem(path, 0, finding.LevelError, "binary file, not a Dockerfile")
		return
	}
	r.set.Files++
	r.set.Dockerfiles = append(r.set.Dockerfiles, Dockerfile{Path: path, Content: data})
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.New(describeFSError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file larger than %d MiB", limit>>20)
	}
	return data, nil
}

// readStream sniffs the start of a stream and splits it as JSON or YAML.
func (r *reader) readStream(name string, in io.Reader) {
	br, ok := in.(*bufio.Reader)
	if !ok || br.Size() < sniffBytes {
		if r.br == nil {
			r.br = bufio.NewReaderSize(in, 64<<10)
		} else {
			r.br.Reset(in)
		}
		br = r.br
	}
	head, _ := br.Peek(sniffBytes)
	if isBinary(head) {
		r.problem(name, 0, finding.LevelError, "binary file, not YAML or JSON")
		return
	}
	r.set.Files++
	r.fileSeq++
	seq := r.fileSeq
	docSeq := 0
	emit := func(json bool) func(document) error {
		return func(d document) error {
			if r.ctx.Err() != nil {
				return r.ctx.Err()
			}
			if d.oversized {
				r.problem(name, d.startLine, finding.LevelError, "document larger than %d MiB, skipped", maxDocumentBytes>>20)
				return nil
			}
			r.jobs <- docJob{file: name, fileSeq: seq, docSeq: docSeq, doc: d, jsonData: json}
			docSeq++
			return nil
		}
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		data, err := io.ReadAll(io.LimitReader(br, maxJSONFileBytes+1))
		if err != nil {
			r.problem(name, 0, finding.LevelError, "read: %v", err)
			return
		}
		if len(data) > maxJSONFileBytes {
			r.problem(name, 0, finding.LevelError, "JSON file larger than %d MiB, skipped", maxJSONFileBytes>>20)
			return
		}
		if err := splitJSON(data, emit(true)); err != nil && r.ctx.Err() == nil {
			r.problem(name, 0, finding.LevelError, "invalid JSON: %v", err)
		}
		return
	}
	if err := splitYAML(br, emit(false)); err != nil && r.ctx.Err() == nil {
		r.problem(name, 0, finding.LevelError, "read: %v", err)
	}
}

// isBinary reports whether the start of a file looks binary: a NUL byte is
// never valid in YAML, JSON or a Dockerfile.
func isBinary(head []byte) bool {
	return bytes.IndexByte(head, 0) >= 0
}

// parseDocument parses one document into zero or more objects, with the
// fast path when it can and yaml.v3 otherwise.
func parseDocument(j docJob, fp *fastParser) ([]*Object, []finding.Problem) {
	if fp != nil {
		if o, ok := fp.parse(j); ok {
			return []*Object{o}, nil
		}
	}
	return parseDocumentYAML(j)
}

// parseDocumentYAML parses one document with yaml.v3.
func parseDocumentYAML(j docJob) ([]*Object, []finding.Problem) {
	var probs []finding.Problem
	problem := func(line int, level, format string, args ...any) {
		probs = append(probs, finding.Problem{File: j.file, Line: line, Level: level, Message: fmt.Sprintf(format, args...)})
	}
	abs := func(rel int) int {
		if rel <= 0 {
			return j.doc.startLine
		}
		return j.doc.startLine + rel - 1
	}
	var root yaml.Node
	if err := yaml.Unmarshal(j.doc.data, &root); err != nil {
		line, msg := yamlErrorLine(err)
		problem(abs(line), finding.LevelError, "invalid YAML: %s", msg)
		return nil, probs
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil
	}
	body := root.Content[0]
	for body.Kind == yaml.AliasNode {
		body = body.Alias
	}
	if body.Kind != yaml.MappingNode {
		problem(abs(body.Line), finding.LevelNote, "not a Kubernetes object (document is not a mapping); skipped")
		return nil, probs
	}
	apiVersion, kind := topScalar(body, "apiVersion"), topScalar(body, "kind")
	if apiVersion == "" || kind == "" {
		problem(abs(body.Line), finding.LevelNote, "not a Kubernetes object (no apiVersion and kind); skipped")
		return nil, probs
	}
	if items := topValue(body, "items"); strings.HasSuffix(kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
		var objs []*Object
		for _, item := range items.Content {
			for item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.MappingNode || topScalar(item, "apiVersion") == "" || topScalar(item, "kind") == "" {
				problem(abs(item.Line), finding.LevelNote, "%s item is not a Kubernetes object; skipped", kind)
				continue
			}
			o, err := newObject(j, item, abs)
			if err != nil {
				problem(abs(errLine(err)), finding.LevelError, "%s", err)
				continue
			}
			objs = append(objs, o)
		}
		return objs, probs
	}
	o, err := newObject(j, body, abs)
	if err != nil {
		problem(abs(errLine(err)), finding.LevelError, "%s", err)
		return nil, probs
	}
	return []*Object{o}, probs
}

func newObject(j docJob, n *yaml.Node, abs func(int) int) (*Object, error) {
	c := converter{record: true}
	if err := c.convert(n, newPathHash(), 0, true); err != nil {
		return nil, err
	}
	for i := range c.lines {
		c.lines[i].line = int32(abs(int(c.lines[i].line)))
	}
	lines, lineBase := newLineIndex(c.lines)
	o := &Object{
		File:       j.file,
		Line:       abs(n.Line),
		HelmSource: j.doc.helmSource,
		APIVersion: topScalar(n, "apiVersion"),
		Kind:       topScalar(n, "kind"),
		JSON:       bytes.Clone(c.buf.Bytes()),
		lines:      lines,
		lineBase:   lineBase,
	}
	if md := topValue(n, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		o.Name = topScalar(md, "name")
		if o.Name == "" {
			o.Name = topScalar(md, "generateName")
		}
		o.Namespace = topScalar(md, "namespace")
	}
	return o, nil
}

func errLine(err error) int {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.line
	}
	return 0
}

// topValue returns the value of a key in a mapping node, or nil.
func topValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

func topScalar(m *yaml.Node, key string) string {
	if v := topValue(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// yamlErrorLine pulls "line N" out of a go-yaml error message.
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		if i := strings.Index(msg, ":"); i >= 0 {
			msg = strings.TrimSpace(msg[i+1:])
		}
		// go-yaml prints scanner errors 1-based but parser errors
		// ("did not find expected ...") with their 0-based mark.
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
		return line, msg
	}
	return 0, msg
}
