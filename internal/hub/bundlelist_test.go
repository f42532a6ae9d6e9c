package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestBundleListInlineBudget: many small bundles are inlined only up to
// MaxInlineListBytes in all; the others are listed with their size and
// no content, to be fetched apart.
func TestBundleListInlineBudget(t *testing.T) {
	th := startHub(t)
	cert, _, _ := th.enrol(t, "edge-many")
	content := bytes.Repeat([]byte("registry.example.com\n"), (fleetapi.MaxInlineBundleBytes-1024)/21)
	const n = 20
	for i := range n {
		if _, err := th.PublishBundle(context.Background(), fleetapi.BundleAllowList, fmt.Sprintf("list-%02d", i), "", content); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := call(t, th.client(cert), "GET", th.url+fleetapi.PathBundles, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var list fleetapi.BundleList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	inline, apart := 0, 0
	for _, b := range list.Bundles {
		if b.Size != int64(len(content)) {
			t.Errorf("%s: size %d, want %d", b.Name, b.Size, len(content))
		}
		if b.Content != nil {
			inline += len(b.Content)
		} else {
			apart++
		}
	}
	if len(list.Bundles) != n || inline > fleetapi.MaxInlineListBytes || apart == 0 || inline == 0 {
		t.Fatalf("%d bundles, %d bytes inline, %d listed apart; want %d, at most %d inline, some apart", len(list.Bundles), inline, apart, n, fleetapi.MaxInlineListBytes)
	}
	if len(body) > 16<<20/2 {
		t.Errorf("the list is %d bytes", len(body))
	}
}
