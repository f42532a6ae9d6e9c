package workload

import (
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// direct is a JSON decoder without reflection for the workload kinds'
// typed objects (directkinds.go), which are most of a large scan's
// decoding. It is deliberately partial: it decodes only the fields it
// knows, into the same typed structs, and gives up (bad) on anything whose
// encoding/json semantics it does not reproduce exactly: a name that is
// not an exact field name but folds to one, a repeated name, invalid UTF-8,
// a UTF-16 surrogate escape, a number that is not a plain integer in range,
// a value of the wrong JSON type, a null inside a map, a custom
// unmarshaler's error, or nesting deeper than maxDirectDepth. The caller
// then decodes the object with unmarshalTyped, which decides every error and
// every lenient case. So the contract is: when direct succeeds, its result
// is the one unmarshalTyped would return (TestDirectDecodeMatches,
// FuzzDirectDecodeMatches hold it to that).
//
// Names that match no field of the struct (not even case-insensitively,
// ignoring '-' and '_' as go-json-experiment's folding may) are skipped as
// encoding/json skips them, after checking their value is valid JSON.
type direct struct {
	b     []byte
	i     int
	bad   bool
	depth int
	cache *directCache
}

// directCache shares the resource lists that identical JSON decodes to
// between the objects one goroutine decodes. Nearly every container of
// a large input repeats one of a few lists ({"cpu":"100m","memory":
// "128Mi"}), and each decoded list is a map of its own (~600 bytes, the
// largest allocation of typed decoding after the containers). Sharing is
// safe because nothing after decoding writes to a workload's resource
// lists (rules are pure), and a list is shared only when its quantities
// hold no pointer (Quantity.DeepCopy returns an equal value), so that no
// copy of a shared quantity can change another's. Bounded against
// hostile input: at most maxSharedLists lists of at most
// maxSharedListBytes of JSON each; past that, lists decode as before.
//
// A directCache is owned by one goroutine; the zero value is ready.
type directCache struct {
	lists map[string]corev1.ResourceList
}

const (
	maxSharedLists     = 256
	maxSharedListBytes = 256
)

// keep remembers the list that raw decoded to, when it may be shared.
func (c *directCache) keep(raw []byte, l corev1.ResourceList) {
	if len(raw) > maxSharedListBytes || len(c.lists) >= maxSharedLists {
		return
	}
	for _, q := range l {
		if q != q.DeepCopy() {
			return
		}
	}
	if c.lists == nil {
		c.lists = make(map[string]corev1.ResourceList)
	}
	c.lists[string(raw)] = l
}

const maxDirectDepth = 200

// fail gives up: every loop stops and the caller falls back.
func (d *direct) fail() {
	d.bad = true
	d.i = len(d.b)
}

func (d *direct) ws() { d.i = jsonenc.SkipSpace(d.b, d.i) }

// peek returns the next non-space byte, or 0 at the end.
func (d *direct) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *direct) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (d *direct) null() bool {
	return d.peek() == 'n' && d.lit("null")
}

// emptyObject consumes null or {}, which leave a struct value unchanged,
// and fails on anything else.
func (d *direct) emptyObject() {
	if d.null() {
		return
	}
	if d.peek() == '{' {
		d.i++
		if d.peek() == '}' {
			d.i++
			return
		}
	}
	d.fail()
}

// end reports whether the whole input was one value.
func (d *direct) end() bool {
	d.ws()
	return !d.bad && d.i == len(d.b)
}

// open consumes the opening bracket c of an object or array and counts
// the nesting; it reports false for a null (consumed), and fails on any
// other value or on nesting deeper than maxDirectDepth.
func (d *direct) open(c byte) bool {
	if d.bad || d.null() {
		return false
	}
	if d.peek() != c {
		d.fail()
		return false
	}
	d.i++
	d.depth++
	if d.depth > maxDirectDepth {
		d.fail()
		return false
	}
	return true
}

// object yields each name of an object, positioned at its value, which the
// loop body must consume. null yields nothing (a no-op, as in
// encoding/json, for the fresh values decoded here). A repeated name fails.
func (d *direct) object(yield func(key []byte) bool) {
	if !d.open('{') {
		return
	}
	defer func() { d.depth-- }()
	if d.peek() == '}' {
		d.i++
		return
	}
	var seen [24][]byte
	var more map[string]bool
	n := 0
	for {
		if d.peek() != '"' {
			d.fail()
			return
		}
		k, ok := d.plainString()
		if !ok {
			d.fail()
			return
		}
		for _, s := range seen[:min(n, len(seen))] {
			if string(s) == string(k) {
				d.fail()
				return
			}
		}
		if n < len(seen) {
			seen[n] = k
		} else {
			if more == nil {
				more = map[string]bool{}
			}
			if more[string(k)] {
				d.fail()
				return
			}
			more[string(k)] = true
		}
		n++
		if d.peek() != ':' {
			d.fail()
			return
		}
		d.i++
		if !yield(k) || d.bad {
			return
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
			return
		}
	}
}

// array yields once per element, positioned at it; the body consumes it.
// Callers check null first when null and [] differ for them (slices).
func (d *direct) array(yield func() bool) {
	if !d.open('[') {
		return
	}
	defer func() { d.depth-- }()
	if d.peek() == ']' {
		d.i++
		return
	}
	for {
		d.ws()
		if !yield() || d.bad {
			return
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail()
			return
		}
	}
}

// plainString consumes a string without escapes and returns its bytes
// (names; a name with escapes is left to the fallback).
func (d *direct) plainString() ([]byte, bool) {
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// str decodes a string value; null leaves the zero value.
func (d *direct) str() string {
	if d.bad || d.null() {
		return ""
	}
	if d.peek() != '"' {
		d.fail()
		return ""
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				d.fail()
				return ""
			}
			d.i = j + 1
			return string(s)
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			d.fail()
			return ""
		case c >= 0x80:
			ascii = false
		}
	}
	d.fail()
	return ""
}

// escaped decodes a string with escapes from start (after the quote).
func (d *direct) escaped(start int) string {
	var out []byte
	for j := start; j < len(d.b); {
		c := d.b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				d.fail()
				return ""
			}
			d.i = j + 1
			return string(out)
		case c < 0x20:
			d.fail()
			return ""
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(d.b) {
			break
		}
		switch e := d.b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if j+6 > len(d.b) {
				d.fail()
				return ""
			}
			v, err := strconv.ParseUint(string(d.b[j+2:j+6]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(v)) {
				d.fail()
				return ""
			}
			out = utf8.AppendRune(out, rune(v))
			j += 6
			continue
		default:
			d.fail()
			return ""
		}
		j += 2
	}
	d.fail()
	return ""
}

// strp decodes a *string-like value: null leaves nil.
func strp[T ~string](d *direct) *T {
	if d.null() {
		return nil
	}
	v := T(d.str())
	return &v
}

// boolean decodes true or false; null leaves false.
func (d *direct) boolean() bool {
	switch {
	case d.bad || d.null():
		return false
	case d.lit("true"):
		return true
	case d.lit("false"):
		return false
	}
	d.fail()
	return false
}

func (d *direct) boolp() *bool {
	if d.null() {
		return nil
	}
	v := d.boolean()
	return &v
}

// integer decodes a plain JSON integer that fits in bits; fractions,
// exponents and overflow are left to the fallback (which reports them).
func (d *direct) integer(bits int) int64 {
	if d.bad || d.null() {
		return 0
	}
	d.ws()
	start := d.i
	j, ok := d.intPart(start)
	if !ok {
		d.fail()
		return 0
	}
	if j < len(d.b) {
		switch d.b[j] {
		case '.', 'e', 'E':
			d.fail()
			return 0
		}
	}
	v, err := strconv.ParseInt(string(d.b[start:j]), 10, bits)
	if err != nil {
		d.fail()
		return 0
	}
	d.i = j
	return v
}

func (d *direct) i32() int32 { return int32(d.integer(32)) }

func (d *direct) i32p() *int32 {
	if d.null() {
		return nil
	}
	v := d.i32()
	return &v
}

func (d *direct) i64p() *int64 {
	if d.null() {
		return nil
	}
	v := d.integer(64)
	return &v
}

// strings decodes an array of strings: null leaves nil, [] is empty.
func directStrings[T ~string](d *direct) []T {
	if d.null() {
		return nil
	}
	out := []T{}
	for range d.array {
		out = append(out, T(d.str()))
	}
	return out
}

// stringMap decodes an object of strings; a null value is left to the
// fallback.
func directStringMap[K, V ~string](d *direct) map[K]V {
	if d.null() {
		return nil
	}
	out := map[K]V{}
	for k := range d.object {
		if d.peek() == 'n' {
			d.fail()
			return nil
		}
		out[K(k)] = V(d.str())
	}
	return out
}

// raw returns the next value's bytes after checking it is valid JSON, for
// types with their own UnmarshalJSON.
func (d *direct) raw() []byte {
	d.ws()
	start := d.i
	d.skip()
	if d.bad {
		return nil
	}
	return d.b[start:d.i]
}

// skip consumes any valid JSON value.
func (d *direct) skip() {
	switch c := d.peek(); {
	case c == '{':
		for range d.object {
			d.skip()
		}
	case c == '[':
		for range d.array {
			d.skip()
		}
	case c == '"':
		d.str()
	case c == 't' || c == 'f':
		d.boolean()
	case c == 'n':
		d.null()
	case c == '-' || (c >= '0' && c <= '9'):
		d.number()
	default:
		d.fail()
	}
}

// intPart scans the sign and integer digits of a JSON number from j and
// returns where they end; false when there are no digits or a leading zero.
func (d *direct) intPart(j int) (int, bool) {
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	return j, j > digits && (d.b[digits] != '0' || j-digits == 1)
}

// number consumes any JSON number.
func (d *direct) number() {
	j, ok := d.intPart(d.i)
	if !ok {
		d.fail()
		return
	}
	if j < len(d.b) && d.b[j] == '.' {
		j++
		f := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == f {
			d.fail()
			return
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		e := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == e {
			d.fail()
			return
		}
	}
	d.i = j
}

// other handles a name the struct's decoder does not: skipped when it
// cannot match any field of the struct, a failure when it could.
func (d *direct) other(key []byte, fields nameSet) {
	n, ok := foldName(key)
	if !ok || fields[n] {
		d.fail()
		return
	}
	d.skip()
}

// nameSet holds a struct's JSON field names, folded by foldName.
type nameSet map[string]bool

// foldName lowers ASCII letters and drops '-' and '_'; names with other
// bytes outside ASCII letters and digits are not folded (false), so the
// caller gives up on them rather than guess how they match.
func foldName(b []byte) (string, bool) {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			sb.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			sb.WriteByte(c)
		case c == '-' || c == '_':
		default:
			return "", false
		}
	}
	return sb.String(), true
}

// fieldNames lists the JSON names of T's fields, including those of
// embedded structs, folded; computed once per type when the package loads.
func fieldNames[T any]() nameSet {
	set := nameSet{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			n, ok := foldName([]byte(name))
			if !ok {
				panic("workload: field name " + name + " does not fold")
			}
			set[n] = true
		}
	}
	walk(reflect.TypeFor[T]())
	return set
}
