package manifest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
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
	"unicode/utf16"

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
	// defaultMaxItems bounds the documents and JSON array elements read
	// from one file, and the items of one list: a file of a million empty
	// objects costs its size in memory, not a million objects.
	defaultMaxItems = 100_000
)

// stdinName is the file name of objects and problems read from stdin.
const stdinName = "<stdin>"

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
	// Documents counts the non-empty documents read: YAML documents, JSON
	// values and the elements of top-level JSON arrays. A list (typed or
	// kind: List) is one document however many items it holds. Empty
	// documents (blank, only comments, null, {}) are not counted.
	Documents int
	// NotUnderstood counts the documents, list items and JSON array
	// elements that were read but yielded no object because of an error:
	// invalid YAML or JSON, apiVersion or kind missing, too large, beyond a
	// limit. Each has an error in Problems naming its file and line (one
	// problem may stand for several cut at once, and says how many).
	// Together with len(Objects) it gives the summary "N objects scanned, M
	// not understood". Files that could not be read at all are errors in
	// Problems but are not counted here: how many objects they held is
	// unknown. Documents that are clearly not manifests (a values file, a
	// JSON array of strings) are notes and not counted either.
	NotUnderstood int
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
	// MaxItems bounds the documents and JSON array elements read from one
	// file, and the items of one list; 0 means 100,000. What is cut is an
	// error problem saying how much.
	MaxItems int
}

// Stream is named input that is not a file on disk, such as the rendered
// output of one Helm chart template.
type Stream struct {
	Name string
	Data []byte
	// Lines, when set, maps the lines of Data to lines of the file Name:
	// Lines[k-1] is the line of Name that produced line k of Data (0 when
	// unknown). Rendered templates use it so that objects and fields are
	// located at the template line that wrote them, not at a line of the
	// rendered output, which in the template file is somewhere else.
	Lines []int
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
	file    string
	fileSeq int
	// docSeq is the position of the document among those of its file.
	docSeq int
	doc    document
	// maxItems bounds the items of a list (Options.MaxItems).
	maxItems int
	// lineMap maps lines of the stream to lines of file (Stream.Lines).
	lineMap []int
}

// fileLine maps a line of the document's stream to the line reported:
// itself, or the source line Stream.Lines gives for it.
func (j docJob) fileLine(l int) int {
	if l >= 1 && l <= len(j.lineMap) && j.lineMap[l-1] > 0 {
		return j.lineMap[l-1]
	}
	return l
}

// where names the document in messages, as a user counts: "document 3",
// or "JSON array element 3".
func (j docJob) where() string {
	if j.doc.elem > 0 {
		return fmt.Sprintf("JSON array element %d", j.doc.elem)
	}
	return fmt.Sprintf("document %d", j.doc.num)
}

type docResult struct {
	fileSeq, docSeq int
	objects         []*Object
	problems        []finding.Problem
	// empty is set for documents with no content (null, {}), and for the
	// items of a split list after its first: they are not counted in
	// Set.Documents.
	empty bool
	// notUnderstood counts the document or items that yielded no object
	// because of an error (Set.NotUnderstood).
	notUnderstood int
}

// Load reads every path (files, directories recursively, "-" for stdin).
// It returns an error only when ctx ends; everything else wrong with the
// input is a Problem in the Set, and the rest of the input is still read.
func Load(ctx context.Context, paths []string, opts Options) (*Set, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = defaultMaxItems
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
				results <- parseDocument(j, &fp)
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
		r.lineMap = st.Lines
		r.readStream(st.Name, bytes.NewReader(st.Data))
		r.lineMap = nil
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
		if !c.empty {
			set.Documents++
		}
		set.NotUnderstood += c.notUnderstood
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
	// lineMap is the Lines of the stream being read (nil for files).
	lineMap []int
}

func (r *reader) problem(file string, line int, level, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set.Problems = append(r.set.Problems, finding.Problem{File: file, Line: line, Level: level, Message: fmt.Sprintf(format, args...)})
}

func (r *reader) readPath(p string) {
	if p == StdinPath {
		if r.opts.Stdin == nil {
			r.problem(stdinName, 0, finding.LevelError, "no standard input")
			return
		}
		r.readStream(stdinName, r.opts.Stdin)
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
		if d.Type()&fs.ModeSymlink != 0 {
			r.readSymlink(path, name)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // devices, pipes and sockets are not manifests
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

// readSymlink reads a symlink met in a directory walk as kubectl apply -f
// does: a link to a manifest file (or a Dockerfile) is read under the
// link's name; a dangling one is an error, since kubectl fails on it; a
// link to a directory is not followed (as kubectl's walk does not
// follow it, and so that a loop cannot make the walk endless), said in a
// note so that a scan does not look complete when it is not.
func (r *reader) readSymlink(path, name string) {
	manifest := IsManifestFile(name)
	docker := IsDockerfile(name) && !manifest && !r.opts.SkipDockerfiles
	info, err := os.Stat(path)
	switch {
	case err != nil:
		if manifest || docker {
			r.problem(path, 0, finding.LevelError, "symlink: %s", describeFSError(err))
		}
	case info.IsDir():
		r.problem(path, 0, finding.LevelNote, "symlink to a directory; not followed")
	case !info.Mode().IsRegular():
	case manifest:
		r.readFile(path, false)
	case docker:
		r.readDockerfile(path)
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
	if utf16BOM(head) != nil {
		// PowerShell 5 writes "kubectl get ... > file" as UTF-16.
		data, err := io.ReadAll(io.LimitReader(br, maxJSONFileBytes+1))
		if err != nil || len(data) > maxJSONFileBytes {
			r.problem(name, 0, finding.LevelError, "UTF-16 file unreadable or larger than %d MiB, skipped", maxJSONFileBytes>>20)
			return
		}
		r.readStream(name, bytes.NewReader(decodeUTF16(data)))
		return
	}
	if isBinary(head) {
		r.problem(name, 0, finding.LevelError, "binary file, not YAML or JSON")
		return
	}
	r.set.Files++
	r.fileSeq++
	seq := r.fileSeq
	docSeq := 0
	// Documents beyond Options.MaxItems are counted, not parsed.
	cut, cutLine := 0, 0
	emit := func(d document) error {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if d.oversized {
			r.problem(name, d.startLine, finding.LevelError, "document larger than %d MiB, skipped", maxDocumentBytes>>20)
			r.set.NotUnderstood++
			return nil
		}
		if docSeq >= r.opts.MaxItems {
			if cut == 0 {
				cutLine = d.startLine
			}
			cut++
			return nil
		}
		file := name
		if name == stdinName && d.helmSource != "" {
			// Helm output piped in: the template is the only place a
			// user can find and fix the object, so it is the file, and
			// its lines count with the "# Source:" comment as line 1, as
			// for charts rendered by internal/render (docs/ci-cd.md).
			file = d.helmSource
			d.startLine -= d.helmLine - 1
		}
		if d.num == 0 {
			d.num = docSeq + 1
		}
		r.jobs <- docJob{file: file, fileSeq: seq, docSeq: docSeq, doc: d, maxItems: r.opts.MaxItems, lineMap: r.lineMap}
		docSeq++
		return nil
	}
	defer func() {
		if cut > 0 {
			r.problem(name, cutLine, finding.LevelError, "more than %d documents, list items or JSON array elements in one file: the last %d, from this line on, were not read", r.opts.MaxItems, cut)
			r.set.NotUnderstood += cut
		}
	}()
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		data, err := io.ReadAll(io.LimitReader(br, maxJSONFileBytes+1))
		if err != nil {
			r.problem(name, 0, finding.LevelError, "read: %v", err)
			return
		}
		if len(data) > maxJSONFileBytes {
			r.problem(name, 0, finding.LevelError, "JSON file larger than %d MiB, skipped", maxJSONFileBytes>>20)
			return
		}
		note := func(line int, format string, args ...any) {
			r.problem(name, line, finding.LevelNote, format, args...)
		}
		if !looksLikeJSON(bytes.TrimPrefix(data, []byte("\ufeff"))) {
			// YAML flow style ("{a: b}", "[a, b]") starts the same way.
			if err := splitYAML(bytes.NewReader(data), emit); err != nil && r.ctx.Err() == nil {
				r.problem(name, 0, finding.LevelError, "read: %v", err)
			}
			return
		}
		var je *jsonError
		if err := splitJSON(data, emit, note); errors.As(err, &je) && r.ctx.Err() == nil {
			r.problem(name, je.line, finding.LevelError, "invalid JSON: %v", je.err)
			r.set.NotUnderstood++
		}
		return
	}
	if err := splitYAML(br, emit); err != nil && r.ctx.Err() == nil {
		r.problem(name, 0, finding.LevelError, "read: %v", err)
	}
}

// utf16BOM returns the byte order of a stream that starts with a UTF-16
// byte order mark, or nil.
func utf16BOM(head []byte) binary.ByteOrder {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) && !bytes.HasPrefix(head, []byte{0xFF, 0xFE, 0, 0}):
		return binary.LittleEndian
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return binary.BigEndian
	}
	return nil
}

// decodeUTF16 turns UTF-16 text after its byte order mark into UTF-8 (an
// odd last byte is dropped, invalid surrogates become U+FFFD).
func decodeUTF16(data []byte) []byte {
	order := utf16BOM(data)
	units := make([]uint16, 0, len(data)/2-1)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return []byte(string(utf16.Decode(units)))
}

// isBinary reports whether the start of a file looks binary: a NUL byte is
// never valid in YAML, JSON or a Dockerfile.
func isBinary(head []byte) bool {
	return bytes.IndexByte(head, 0) >= 0
}

// parseDocument parses one document into zero or more objects, with the
// fast path when it can and yaml.v3 otherwise.
func parseDocument(j docJob, fp *fastParser) docResult {
	res := docResult{fileSeq: j.fileSeq, docSeq: j.docSeq}
	if fp != nil {
		if o, ok := fp.parse(j); ok {
			res.objects = []*Object{o}
			return res
		}
	}
	return parseDocumentYAML(j)
}

// parseDocumentYAML parses one document with yaml.v3. The result says
// whether the document was empty (null, {}), which is silent, and how many
// of the document or its items yielded no object because of an error
// (each has an error problem); notes are for documents that are clearly
// not manifests.
//
// A mapping is read as an object when it has both apiVersion and kind; as
// a list when, besides, its kind ends in "List" and it has items. Items of
// a typed list (PodList, DeploymentList, ...) as the API server returns
// them carry no apiVersion and kind: they get the list's apiVersion and its
// kind without "List". Items of kind: List (kubectl get a,b -o yaml) must
// carry their own, as nothing tells what they are. A mapping with only
// some of apiVersion, kind and metadata was meant as an object and is an
// error; one with none of them (a Helm values file, a package.json) is a
// note, as is a document that is not a mapping.
func parseDocumentYAML(j docJob) docResult {
	res := docResult{fileSeq: j.fileSeq, docSeq: j.docSeq}
	problem := func(line int, level, format string, args ...any) {
		res.problems = append(res.problems, finding.Problem{File: j.file, Line: line, Level: level, Message: fmt.Sprintf(format, args...)})
		if level == finding.LevelError {
			res.notUnderstood++
		}
	}
	abs := func(rel int) int {
		l := j.doc.startLine
		if rel > 0 {
			l += rel - 1
		}
		// Lines of Helm documents count from their "# Source:" comment;
		// the separator before it is line 1 too.
		return j.fileLine(max(l, 1))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(j.doc.data, &root); err != nil {
		line, msg := yamlErrorLine(err)
		problem(abs(line), finding.LevelError, "%s: invalid %s: %s", j.where(), j.syntax(), msg)
		return res
	}
	if j.doc.list != nil {
		// One item of a list split up by splitJSON or splitYAMLList; an
		// empty one ("-" alone) is an error as in a list parsed whole.
		item := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: 1}
		if root.Kind != 0 && len(root.Content) > 0 {
			item = deref(root.Content[0])
		}
		res.empty = j.doc.list.item > 1 // the list counts once
		res.objects = listItems(j, item, *j.doc.list, newBudget(), abs, problem, 0)
		return res
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		res.empty = true
		return res
	}
	body := deref(root.Content[0])
	switch {
	case body.Kind == yaml.ScalarNode && body.ShortTag() == "!!null",
		body.Kind == yaml.MappingNode && len(body.Content) == 0:
		res.empty = true
		return res
	case body.Kind != yaml.MappingNode:
		problem(abs(body.Line), finding.LevelNote, "%s is %s, not a Kubernetes object; skipped", j.where(), nodeDescription(body))
		return res
	}
	apiVersion, kind := topScalar(body, "apiVersion"), topScalar(body, "kind")
	if msg := missingTypeMeta(body); msg != "" {
		if apiVersion == "" && kind == "" && topValue(body, "metadata") == nil {
			problem(abs(body.Line), finding.LevelNote, "%s is not a Kubernetes object (no apiVersion, kind or metadata: a values or configuration file?); skipped", j.where())
		} else {
			problem(abs(body.Line), finding.LevelError, "%s: %s; not read", j.where(), msg)
		}
		return res
	}
	items, isList := topValue(body, "items"), false
	if strings.HasSuffix(kind, "List") && items != nil {
		isList = true
	}
	if !isList {
		o, err := newObject(j, body, newBudget(), abs, "", "")
		if err != nil {
			problem(abs(errLine(err)), finding.LevelError, "%s: %s", j.where(), err)
			return res
		}
		res.objects = []*Object{o}
		return res
	}
	if key := duplicateKey(body); key != "" {
		// An object's keys are checked as it is converted; a list's here.
		problem(abs(body.Line), finding.LevelError, "%s: duplicate key %q", j.where(), key)
		return res
	}
	switch {
	case items.Kind == yaml.ScalarNode && items.ShortTag() == "!!null":
		return res // an empty list, as kubectl prints "items: null"
	case items.Kind != yaml.SequenceNode:
		problem(abs(items.Line), finding.LevelError, "%s: %s whose items is %s, not a list; not read", j.where(), kind, nodeDescription(items))
		return res
	}
	list := listInfo{apiVersion: apiVersion, kind: kind}
	if md := topValue(body, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		list.partial = partialList(topScalar(md, "continue"), topScalar(md, "remainingItemCount"))
	}
	b := newBudget()
	for i, item := range items.Content {
		if j.maxItems > 0 && i >= j.maxItems {
			problem(abs(item.Line), finding.LevelError, "%s: %s has %d items: the last %d, from this line on, were not read", j.where(), kind, len(items.Content), len(items.Content)-i)
			res.notUnderstood += len(items.Content) - i - 1
			break
		}
		if b.nodes <= 0 || b.bytes <= 0 {
			problem(abs(item.Line), finding.LevelError, "%s: %s expands to too many nodes (alias bomb?): the last %d items, from this line on, were not read", j.where(), kind, len(items.Content)-i)
			res.notUnderstood += len(items.Content) - i - 1
			break
		}
		list.item = i + 1
		res.objects = append(res.objects, listItems(j, deref(item), list, b, abs, problem, 0)...)
	}
	return res
}

// listInfo is the list a document or node is an item of.
type listInfo struct {
	apiVersion, kind string
	// item is the 1-based position of the item in the list.
	item int
	// partial, when set, says that the list is one page of a longer one.
	partial string
}

// partialList says what is missing from a list that has a continue token
// (read with a limit, as kubectl --chunk-size or ?limit= pages), or "".
func partialList(continueToken, remaining string) string {
	if continueToken == "" {
		return ""
	}
	if remaining != "" && remaining != "0" {
		return fmt.Sprintf("is one page of a longer list: metadata.continue is set and %s more items are not in the input", remaining)
	}
	return "is one page of a longer list: metadata.continue is set and its other items are not in the input"
}

// maxListNesting bounds lists inside lists (kubectl flattens them at any
// depth; real dumps nest one level at most).
const maxListNesting = 8

// listItems makes the objects of an item of a list, or reports why not.
// Items of a typed list get the list's apiVersion and its kind without
// "List" where they have none; items of kind: List must name their own.
// An item that is itself a list (a RoleList inside kind: List) is
// flattened into its items, as kubectl's resource builder does, so a
// nested list is never taken for one object of kind RoleList.
func listItems(j docJob, item *yaml.Node, list listInfo, b *budget, abs func(int) int, problem func(line int, level, format string, args ...any), depth int) []*Object {
	if item.Kind == yaml.MappingNode && list.kind == "List" {
		if kind, items := topScalar(item, "kind"), topValue(item, "items"); strings.HasSuffix(kind, "List") && items != nil &&
			items.Kind == yaml.SequenceNode && topScalar(item, "apiVersion") != "" {
			if depth >= maxListNesting {
				problem(abs(item.Line), finding.LevelError, "%s: %s item %d: lists nested deeper than %d levels; not read", j.where(), list.kind, list.item, maxListNesting)
				return nil
			}
			inner := listInfo{apiVersion: topScalar(item, "apiVersion"), kind: kind}
			var out []*Object
			for i, it := range items.Content {
				if b.nodes <= 0 || b.bytes <= 0 {
					problem(abs(it.Line), finding.LevelError, "%s: %s expands to too many nodes (alias bomb?): the last %d items, from this line on, were not read", j.where(), kind, len(items.Content)-i)
					break
				}
				inner.item = i + 1
				out = append(out, listItems(j, deref(it), inner, b, abs, problem, depth+1)...)
			}
			return out
		}
	}
	if o := listItem(j, item, list, b, abs, problem); o != nil {
		return []*Object{o}
	}
	return nil
}

// listItem makes the object of one item of a list, or reports why not.
func listItem(j docJob, item *yaml.Node, list listInfo, b *budget, abs func(int) int, problem func(line int, level, format string, args ...any)) *Object {
	where := fmt.Sprintf("%s: %s item %d", j.where(), list.kind, list.item)
	if list.item == 1 && list.partial != "" {
		// Scanned, but not all of it: said once, at the first item.
		problem(abs(item.Line), finding.LevelWarning, "%s: %s %s", j.where(), list.kind, list.partial)
	}
	if item.Kind != yaml.MappingNode {
		problem(abs(item.Line), finding.LevelError, "%s is %s, not an object; not read", where, nodeDescription(item))
		return nil
	}
	var apiVersion, kind string
	if list.kind == "List" {
		if msg := missingTypeMeta(item); msg != "" {
			problem(abs(item.Line), finding.LevelError, "%s: %s (an item of kind: List must name its own); not read", where, msg)
			return nil
		}
	} else {
		apiVersion, kind = list.apiVersion, strings.TrimSuffix(list.kind, "List")
	}
	o, err := newObject(j, item, b, abs, apiVersion, kind)
	if err != nil {
		// An error inside an alias is on the anchor's line, elsewhere.
		problem(abs(max(errLine(err), item.Line)), finding.LevelError, "%s: %s", where, err)
		return nil
	}
	return o
}

// duplicateKey returns a key that a mapping has twice, or "".
func duplicateKey(m *yaml.Node) string {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	return ""
}

// syntax names the language a document was written in, for messages.
func (j docJob) syntax() string {
	if d := bytes.TrimLeft(j.doc.data, " \t\r\n"); j.doc.elem > 0 || (len(d) > 0 && d[0] == '{') {
		return "JSON"
	}
	return "YAML"
}

// missingTypeMeta says what of apiVersion and kind a mapping lacks, or ""
// when it has both.
func missingTypeMeta(m *yaml.Node) string {
	apiVersion, kind := topScalar(m, "apiVersion"), topScalar(m, "kind")
	switch {
	case apiVersion != "" && kind != "":
		return ""
	case apiVersion != "":
		return fmt.Sprintf("apiVersion %s but no kind", apiVersion)
	case kind != "":
		return fmt.Sprintf("kind %s but no apiVersion", kind)
	}
	return "no apiVersion and no kind"
}

// nodeDescription names what a YAML node is, for messages.
func nodeDescription(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return "a scalar"
	}
	return "not an object"
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// newObject converts a mapping node into an Object. apiVersion and kind,
// when not empty, are the item's inferred type: they are used, and added to
// its JSON, where the mapping has none of its own.
func newObject(j docJob, n *yaml.Node, b *budget, abs func(int) int, apiVersion, kind string) (*Object, error) {
	c := converter{record: true, budget: b}
	err := c.convert(n, newPathHash(), 0, true)
	b.spend(&c)
	if err != nil {
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
		JSON:       c.buf.Bytes(),
		lines:      lines,
		lineBase:   lineBase,
	}
	if o.APIVersion != "" {
		apiVersion = ""
	}
	if o.Kind != "" {
		kind = ""
	}
	if apiVersion != "" || kind != "" {
		o.JSON = withTypeMeta(o.JSON, apiVersion, kind)
		o.APIVersion = cmp.Or(o.APIVersion, apiVersion)
		o.Kind = cmp.Or(o.Kind, kind)
	}
	o.JSON = bytes.Clone(o.JSON)
	if md := topValue(n, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		o.Name = topScalar(md, "name")
		if o.Name == "" {
			o.Name = topScalar(md, "generateName")
		}
		o.Namespace = topScalar(md, "namespace")
	}
	return o, nil
}

// withTypeMeta puts an inferred apiVersion and kind (those not empty) at
// the front of a JSON object, as the API server writes them. The object
// has none of its own, or an empty one ("kind: ”", "kind: ~"), which is
// dropped so that the key is not there twice.
func withTypeMeta(obj []byte, apiVersion, kind string) []byte {
	add := [][2]string{{"apiVersion", apiVersion}, {"kind", kind}}
	rest := obj[1:] // after '{'
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) == nil {
		dropped := false
		for _, kv := range add {
			if _, ok := fields[kv[0]]; ok && kv[1] != "" {
				delete(fields, kv[0])
				dropped = true
			}
		}
		if rebuilt, err := json.Marshal(fields); dropped && err == nil {
			rest = rebuilt[1:]
		}
	}
	out := []byte{'{'}
	for _, kv := range add {
		if kv[1] == "" {
			continue
		}
		out = appendJSONString(out, kv[0])
		out = append(out, ':')
		out = appendJSONString(out, kv[1])
		out = append(out, ',')
	}
	if rest[0] == '}' {
		out = out[:len(out)-1]
	}
	return append(out, rest...)
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

// topScalar returns the text of a scalar value, "" when it is null ("~",
// "null") or not a scalar.
func topScalar(m *yaml.Node, key string) string {
	if v := topValue(m, key); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
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
