package workload

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/manifest"
)

// TestFieldNamesMatchExactly: the API server matches JSON names exactly
// and drops the others as unknown fields, so a name that only folds to a
// field ("Privileged") must neither set it nor override the real one.
// Each input goes through the loader and the decoder a scan uses.
func TestFieldNamesMatchExactly(t *testing.T) {
	for _, tc := range []struct {
		name, sc   string
		privileged *bool
		runAsUser  *int64
	}{
		{"exact name", `{privileged: true}`, ptr(true), nil},
		{"folded name after the exact one", `{privileged: true, Privileged: false}`, ptr(true), nil},
		{"folded name before the exact one", `{PRIVILEGED: false, privileged: true}`, ptr(true), nil},
		{"folded name alone is dropped", `{Privileged: true}`, nil, nil},
		{"run as root hidden by a folded name", `{runAsUser: 0, RunAsUser: 1000}`, nil, ptr(int64(0))},
		{"folded name with a bad value is dropped", `{privileged: true, Privileged: "x"}`, ptr(true), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n    securityContext: " + tc.sc + "\n"
			set, err := manifest.Load(context.Background(), []string{manifest.StdinPath}, manifest.Options{Stdin: strings.NewReader(doc)})
			if err != nil || len(set.Objects) != 1 {
				t.Fatalf("load: %v %v", err, set.Problems)
			}
			typed, err := decodeTyped(set.Objects[0], nil)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			sc := typed.(*corev1.Pod).Spec.Containers[0].SecurityContext
			if sc == nil {
				t.Fatal("no securityContext")
			}
			if !samePtr(sc.Privileged, tc.privileged) {
				t.Errorf("privileged = %v, the API server reads %v", show(sc.Privileged), show(tc.privileged))
			}
			if !samePtr(sc.RunAsUser, tc.runAsUser) {
				t.Errorf("runAsUser = %v, the API server reads %v", show(sc.RunAsUser), show(tc.runAsUser))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func samePtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
