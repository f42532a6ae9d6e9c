// Package realworld is a differential test harness over corpora of
// real-world Kubernetes input (testdata/realworld at the repository root,
// the API's own example objects in the k8s.io/api module, and objects read
// back from a real kube-apiserver).
//
// Every check compares Palisade's library entry points (the manifest
// loader, the inventory, scan.Config) with an independent oracle: the
// objects come from apimachinery's YAML/JSON decoder, Pod Security verdicts
// from k8s.io/pod-security-admission's evaluator, and rule expectations
// from testdata/realworld/expectations.yaml, written by reading the input,
// never by copying Palisade's output. Mismatches are collected over whole
// corpora and reported with counts per corpus, file, object, expected and
// got, so one run shows every gap.
//
// The package holds tests only.
package realworld
