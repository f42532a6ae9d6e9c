package manifest

import "testing"

// TestFastPathTrickyInputs runs the differential check on edge cases of
// scalar typing, indentation, flow collections and characters, each as the
// body and as the head of a document.
func TestFastPathTrickyInputs(t *testing.T) {
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	bodies := []string{
		"data:\n  a: b]\n", "data:\n  a: b,c\n", "data:\n  a: b#c\n", "data:\n  a: -1\n", "data:\n  a: -.inf\n", "data:\n  a: +1\n",
		"data:\n  a: 0b101\n", "data:\n  a: 0o17\n", "data:\n  a: 1_000_000\n", "data:\n  a: 12345678901234567890\n", "data:\n  a: 1e400\n",
		"data:\n  a: 0x_1\n", "data:\n  a: 0b-1\n", "data:\n  a: 2001-12-14t21:59:43.10-05:00\n", "data:\n  a: 1:20\n", "data:\n  a: 100m\n",
		"data:\n  a: .5\n", "data:\n  a: 5.\n", "data:\n  a: 0.\n", "data:\n  a: -0\n", "data:\n  a: 00\n", "data:\n  a: 09\n", "data:\n  a: 0x\n",
		"data:\n  a: Yes\n", "data:\n  a: NULL\n", "data:\n  a: Null\n", "data:\n  a: nULL\n", "data:\n  a: TRUE\n", "data:\n  a: tRUE\n", "data:\n  a: ~\n",
		"data:\n  a: .NaN\n", "data:\n  a: .Inf\n", "data:\n  a: +.INF\n", "data:\n  a: -.5e-3\n", "data:\n  a: 1.5E+3\n", "data:\n  a: 0e0\n",
		"data:\n  a: [-1, +2, .3, 0x4]\n", "data:\n  a: {b: -x, c: x-}\n", "data:\n  a: [a b, c  d ]\n", "data:\n  a: {u: http://x:80/y}\n",
		"data:\n  a: [\"a\", 'b''c', \"\\x41\\u00e9\\U0001F600\"]\n", "data:\n  a: \"\\/\"\n", "data:\n  a: \"\\ud800\"\n", "data:\n  a: '\\n'\n",
		"data:\n  a:\n  b: 1\n", "data:\n  a:\n\n  b: 1\n", "data:\n  a: # c\n    b: 1\n", "data:\n  -a: 1\n  ?b: 2\n  :c: 3\n",
		"data:\n  a:b: 1\n", "data:\n  \"a\": 1\n  'b': 2\n", "data:\n  \"a\":1\n", "data:\n  a: 1 # c\n  # c\n  b: 2\n",
		"spec:\n  - a\n", "spec:\n- a\n- b:\n  - c\n", "spec:\n  l:\n  - - a\n    - b\n  - c\n", "spec:\n  l:\n  -\n    a: 1\n  - # c\n    b: 2\n",
		"spec:\n  l:\n  - a: 1\n    b: 2\n  - c\n", "spec:\n  l:\n    - a: 1\n      b: 2\n", "spec:\n  l: []\n  m: {}\n  n: [ ]\n  o: { }\n",
		"spec:\n  l: [[], [[]], {a: []}]\n", "spec:\n  l: [a, b,]\n", "spec:\n  l: [a: b]\n", "spec:\n  l: {a: b, a: c}\n", "spec:\n  l: {a}\n",
		"spec:\n  x: 1\n   y: 2\n", "spec:\n   x: 1\n  y: 2\n", "spec:\n  x:\n  - 1\n  y: 2\n", "spec: x\n  y: 2\n",
		"metadata2: {}\n", "data:\n  k: v # trailing   \n", "data:\n  k: v   \n", "data:\n  k: 'v'   # c\n", "data:\n  k: é\n", "data:\n  ké: \"é\"\n",
		"data:\n  k: \xe2\x80\xa8\n", "data:\n  k: a\xc2\x85b\n", "data:\n  k: \xef\xbb\xbf\n", "data:\n  k: \xf0\x9f\x98\x80\n",
		"data:\n  k: --- x\n", "data:\n  k: ...\n", "data:\n  k: a: b\n", "data:\n  k: a :b\n", "data:\n  k: @x\n", "data:\n  k: `x\n", "data:\n  k: %x\n",
		"data:\n  k: !x\n", "data:\n  k: x!\n", "data:\n  k: x&y*z\n", "data:\n  k: |x\n", "data:\n  k: x|y>\n", "data:\n  k: {a: \"b\"}x\n",
		"data:\n  k: [a]#c\n", "data:\n  k: [a] #c\n", "data:\n  k: 'a'#c\n", "data:\n  k: [a, {b: [c, {d: e}]}]\n", "data: {a: b}\n  c: d\n",
		"data:\n  null: 1\n  ~: 2\n", "data:\n  true: 1\n  1: 2\n  1.0: 3\n  0x1: 4\n", "data:\n  'null': 1\n  ~: 2\n", "data:\n  << : 1\n",
		"data:\n  k: [a,b]\n", "data:\n  k: [a , b]\n", "data:\n  k: {a: b,c: d}\n", "data:\n  k: {a: b , c: d}\n", "data:\n  k: {a:b}\n", "data:\n  k: [a:b]\n",
		"data:\n  k: {a: [b]: c}\n", "data:\n  k: {a: -}\n", "data:\n  k: [-]\n", "data:\n  k: [- a]\n", "data:\n  k: [?a]\n", "data:\n  k: [a?]\n", "data:\n  k: [:a]\n",
		"data:\n  k: {? a: b}\n",
		"data:\n  k: |\n    a\n", "data:\n  k: |\n    a", "data:\n  k: |-\n    a\n\n\n", "data:\n  k: |\n    a\n  \n    b\n   \n  j: 1\n",
		"data:\n  k: |\n    a\n      b\n    c\n   d\n", "data:\n  k: |\n    a\n # c\n  j: 1\n", "data:\n  k: | # c\n    #a\n", "data:\n  k: |#c\n    a\n",
		"data:\n  k: |\n  a\n", "data:\n  k: |\n   a\n  j: |-\n   b\n", "spec:\n- k: |\n    a\n  j: 1\n- k: |\n   b\n", "spec:\n- |\n  a\n",
		"data:\n  k: |\n    a\n     \n    b\n", "data:\n  k: |\n    a: b\n    - c\n    [d\n", "data:\n  k: |-\n    a\n  # c\n    b\n", "data:\n  k: {a: 'b', \"c\": \"d\"}\n", "data:\n  k: {'a': 1}\n", "data:\n  k: {\"a\" : 1}\n",
	}
	heads := []string{head, "apiVersion: v1\nkind: X\nmetadata: {name: n, namespace: ns}\n", "  apiVersion: v1\n  kind: X\n", "apiVersion: 1\nkind: true\nmetadata:\n  name: ~\n  generateName: \"\"\n"}
	var fp fastParser
	took := 0
	for _, h := range heads {
		for _, b := range bodies {
			data := []byte(h + b)
			if fastPathResult(t, &fp, docJob{file: "x.yaml", doc: document{startLine: 3, data: data}}) {
				took++
			}
			data = []byte(b + h)
			if fastPathResult(t, &fp, docJob{file: "x.yaml", doc: document{startLine: 1, data: data}}) {
				took++
			}
		}
	}
	if took == 0 {
		t.Error("fast path took none of the inputs")
	}
	t.Logf("fast path took %d of %d", took, 2*len(heads)*len(bodies))
}
