package realworld

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
)

// FuzzLoaderMatchesOracle is the object differential on arbitrary input:
// whenever the independent oracle reads every document of the input as
// manifests (no parse error, nothing that is no manifest), the loader must
// see the same objects by apiVersion and kind, no more and no fewer.
// Seeds (testdata/fuzz) are typed lists, kind: List, JSON arrays and
// streams, and their mixes, as the corpora hold them.
func FuzzLoaderMatchesOracle(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n  spec: {containers: [{name: c, image: x}]}\n"))
	f.Add([]byte(`[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 32<<10 {
			return
		}
		oracle := decodeBytes("fuzz.yaml", data)
		set, err := manifest.Load(context.Background(), nil, manifest.Options{
			Streams: []manifest.Stream{{Name: "fuzz.yaml", Data: data}}, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(oracle.Unreadable) > 0 || oracle.NotManifests > 0 {
			return
		}
		var want, got []string
		for _, o := range oracle.Objects {
			want = append(want, o.ID.APIVersion+" "+o.ID.Kind)
		}
		for _, o := range set.Objects {
			got = append(got, o.APIVersion+" "+o.Kind)
		}
		sort.Strings(want)
		sort.Strings(got)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("oracle read %v, loader %v (problems %v)", want, got, set.Problems)
		}
	})
}
