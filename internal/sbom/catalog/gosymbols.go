package catalog

// Go binary symbol tables, for reachability: which functions the linker
// kept, or inlined into what it kept. The pclntab survives
// `-ldflags=-s -w` (the runtime needs it for stack traces), so stripped
// binaries are read too. "Not reachable" lowers a finding's priority, it
// never hides the finding.

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds on what a hostile binary may cost.
const (
	// maxSymbolBinary is the largest binary whose symbols are read; a
	// bigger one keeps reachability unknown.
	maxSymbolBinary = 512 << 20
	// maxGoSymbols caps the functions taken from one table.
	maxGoSymbols = 1 << 20
)

// errSymbolsTooLarge reports a binary over maxSymbolBinary.
var errSymbolsTooLarge = errors.New("binary too large to read its symbol table")

// GoSymbols reads the functions of an ELF, PE or Mach-O Go binary from
// its pclntab (PE: the one the COFF symbol runtime.pclntab points at, so
// none in a stripped PE binary), named as OSV's ecosystem_specific.imports name them, prefixed by the
// package path: "golang.org/x/text/language.Parse",
// "net/http.Client.Do" (the pointer receiver dropped). Generic functions
// lose their type arguments. Each linked package's bare path is in the
// set too ("golang.org/x/text/language").
func GoSymbols(r io.ReaderAt) (map[string]struct{}, error) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic[:], []byte("MZ")):
		return peGoSymbols(r)
	case isMachO(magic[:]):
		return machoGoSymbols(r)
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read ELF: %w", err)
	}
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		return nil, errors.New("no .gopclntab or .text section")
	}
	if pcln.Size > maxSymbolBinary {
		return nil, errSymbolsTooLarge
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab: %w", err)
	}
	return goSymbolsOf(data, text.Addr)
}

// goSymbolsOf reads the function name table of a Go 1.16 or later
// pclntab. That table names every function linked and every function
// inlined into one (tracebacks print inlined frames), so a vulnerable
// function inlined into its callers is seen too, as govulncheck's
// reading of the inline trees sees it. Older tables fall back to
// debug/gosym's function list, which misses inlined functions.
func goSymbolsOf(pclntab []byte, textAddr uint64) (map[string]struct{}, error) {
	names, err := funcNameTab(pclntab)
	if errors.Is(err, errOldPclntab) {
		return gosymFuncs(pclntab, textAddr)
	}
	if err != nil {
		return nil, err
	}
	return symbolsFromNames(names)
}

// symbolsFromNames reads a function name table: names separated by NUL.
func symbolsFromNames(names []byte) (map[string]struct{}, error) {
	syms := map[string]struct{}{}
	for len(names) > 0 {
		n := bytes.IndexByte(names, 0)
		if n < 0 {
			n = len(names)
		}
		if n > 0 {
			if len(syms) >= 2*maxGoSymbols {
				return nil, fmt.Errorf(".gopclntab names over %d functions", maxGoSymbols)
			}
			addSymbol(syms, &gosym.Sym{Name: string(names[:n])})
		}
		names = names[min(n+1, len(names)):]
	}
	return syms, nil
}

var errOldPclntab = errors.New("pclntab older than Go 1.16")

// funcNameTab returns the function name table of a pclntab: its header
// is a magic number, two pad bytes, the instruction size quantum, the
// pointer size, then pointer-sized words (Go 1.16: nfunc, nfiles,
// funcnameOffset, cuOffset ...; Go 1.18 and later add textStart after
// nfiles). The names run from funcnameOffset to cuOffset.
func funcNameTab(tab []byte) ([]byte, error) {
	if len(tab) < 8 {
		return nil, errors.New("truncated .gopclntab")
	}
	ptr := int(tab[7])
	if ptr != 4 && ptr != 8 {
		return nil, fmt.Errorf(".gopclntab: pointer size %d", ptr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(tab)
	if magic&0xfffffff0 != 0xfffffff0 && magic != 0xfffffffa {
		order = binary.BigEndian
		magic = order.Uint32(tab)
	}
	var first int // index of the funcnameOffset word
	switch magic {
	case 0xfffffffa: // Go 1.16, 1.17
		first = 2
	case 0xfffffff0, 0xfffffff1: // Go 1.18, 1.20 and later
		first = 3
	default:
		return nil, errOldPclntab
	}
	word := func(i int) (uint64, error) {
		off := 8 + i*ptr
		if off+ptr > len(tab) {
			return 0, errors.New("truncated .gopclntab header")
		}
		if ptr == 4 {
			return uint64(order.Uint32(tab[off:])), nil
		}
		return order.Uint64(tab[off:]), nil
	}
	start, err := word(first)
	if err != nil {
		return nil, err
	}
	end, err := word(first + 1)
	if err != nil {
		return nil, err
	}
	if start > end || end > uint64(len(tab)) {
		return nil, fmt.Errorf(".gopclntab: function names at %d..%d outside the table of %d bytes", start, end, len(tab))
	}
	return tab[start:end], nil
}

// gosymFuncs lists the functions of a pre-1.16 table with debug/gosym,
// which panics on some corrupt tables: a panic becomes an error.
func gosymFuncs(pclntab []byte, textAddr uint64) (syms map[string]struct{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			syms, err = nil, fmt.Errorf("corrupt .gopclntab: %v", p)
		}
	}()
	// debug/gosym allocates for the function count of the header before
	// checking it against the table (a fuzzed 17-byte table asked for
	// 290 GiB): check it here, each function takes two words at least.
	if len(pclntab) < 16 {
		return nil, errors.New("truncated .gopclntab")
	}
	ptr, order := uint64(pclntab[7]), binary.ByteOrder(binary.LittleEndian)
	if pclntab[0] != 0xfb {
		order = binary.BigEndian
	}
	nfunc := uint64(order.Uint32(pclntab[8:]))
	if ptr == 8 {
		nfunc = order.Uint64(pclntab[8:])
	}
	if (ptr != 4 && ptr != 8) || nfunc > maxGoSymbols || nfunc*2*ptr > uint64(len(pclntab)) {
		return nil, fmt.Errorf(".gopclntab: header lists %d functions, more than the table holds", nfunc)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(pclntab, textAddr))
	if err != nil {
		return nil, fmt.Errorf("read .gopclntab: %w", err)
	}
	if len(tab.Funcs) > maxGoSymbols {
		return nil, fmt.Errorf(".gopclntab lists %d functions, over the limit of %d", len(tab.Funcs), maxGoSymbols)
	}
	syms = make(map[string]struct{}, len(tab.Funcs))
	for i := range tab.Funcs {
		addSymbol(syms, tab.Funcs[i].Sym)
	}
	return syms, nil
}

// addSymbol adds a function and its package to the set. A symbol name
// does not say where a dotted last path element ends
// ("gopkg.in/yaml.v3.Unmarshal" is package gopkg.in/yaml.v3, debug/gosym
// says gopkg.in/yaml), so every dotted prefix of the name counts as a
// package: a package-level advisory errs towards reachable. The function
// key is the plain concatenation, unambiguous for lookups of
// "path.Symbol".
func addSymbol(syms map[string]struct{}, s *gosym.Sym) {
	pkg, name := osvSymbol(s)
	if name == "" {
		return
	}
	syms[name] = struct{}{}
	syms[pkg] = struct{}{}
	rest := name[len(pkg):]
	for i := 1; i < len(rest); i++ {
		if rest[i] == '(' || rest[i] == '[' {
			break
		}
		if rest[i] == '.' {
			syms[pkg+rest[:i]] = struct{}{}
		}
	}
}

// osvSymbol returns a function's package path and its name as
// "pkgpath.Func" or "pkgpath.Type.Method".
//
// debug/gosym's name splitting panics on some malformed names (a fuzzed
// "...]00.000[..." did): such a name is skipped.
func osvSymbol(s *gosym.Sym) (pkg, name string) {
	defer func() {
		if recover() != nil {
			pkg, name = "", ""
		}
	}()
	pkg = s.PackageName()
	if pkg == "" {
		return "", ""
	}
	base := stripTypeArgs(s.BaseName())
	if recv := s.ReceiverName(); recv != "" {
		// "(*T)", or "v3.(*T)" when the last path element is dotted.
		recv = receiverMarks.Replace(recv)
		return pkg, pkg + "." + stripTypeArgs(recv) + "." + base
	}
	return pkg, pkg + "." + base
}

// receiverMarks drops a pointer receiver's "(*" and ")"; a Replacer is
// immutable and safe to share, and building one per symbol cost more
// than reading the whole table.
var receiverMarks = strings.NewReplacer("(*", "", ")", "")

// stripTypeArgs drops a generic instantiation's "[...]".
func stripTypeArgs(s string) string {
	if i := strings.IndexByte(s, '['); i >= 0 {
		return s[:i]
	}
	return s
}
