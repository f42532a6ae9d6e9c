package hub_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestDashboardImageNotMatched: an image scan an agent reports without a
// vulnerability database (catalogued for the runtime sensors, not
// matched) is shown as "not matched" on the images list and the image's
// page, never as zero vulnerabilities; the same image matched by another
// cluster's agent keeps its counts there. A vulnerability search that
// finds no cluster says which images it could not search.
func TestDashboardImageNotMatched(t *testing.T) {
	h := hubtest.Start(t)
	if err := h.CreateUser(t.Context(), hubtest.ViewerUser, hubtest.ViewerPassword, "viewer"); err != nil {
		t.Fatal(err)
	}
	const (
		shared = "sha256:" + "1111111111111111111111111111111111111111111111111111111111111111"
		own    = "sha256:" + "2222222222222222222222222222222222222222222222222222222222222222"
	)
	now := h.Clock.Now()
	noDB, withDB := h.Enrol(t, "edge-nodb"), h.Enrol(t, "edge-db")
	noDB.Report(t, fleetapi.KindImages, &fleetapi.ImageSet{Images: []fleetapi.ImageUse{
		{Ref: "registry.example/app:1", Digest: shared, Workloads: 1, Namespaces: []string{"default"}},
		{Ref: "registry.example/own:1", Digest: own, Workloads: 1, Namespaces: []string{"default"}}}})
	withDB.Report(t, fleetapi.KindImages, &fleetapi.ImageSet{Images: []fleetapi.ImageUse{
		{Ref: "registry.example/app:1", Digest: shared, Workloads: 1, Namespaces: []string{"default"}}}})
	// As the agent reports a catalogued image (internal/agent scanImages).
	for _, d := range []string{shared, own} {
		noDB.Report(t, fleetapi.KindImageScan, &fleetapi.ImageScan{Digest: d, Ref: "registry.example/x@" + d, ScannedAt: now,
			Vulnerabilities: []finding.Finding{}, Error: fleetapi.ImageScanNotMatched})
	}
	withDB.Report(t, fleetapi.KindImageScan, &fleetapi.ImageScan{Digest: shared, DBStamp: "2026-12-01T00:00:00Z/0123456789ab", ScannedAt: now,
		Vulnerabilities: []finding.Finding{}})

	b := newBrowser(t, h)
	if resp := b.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	get := func(path string) string {
		t.Helper()
		resp, page := b.do("GET", path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", path, resp.StatusCode, page)
		}
		return page
	}
	// row is the images table's row of ref in cluster's list.
	row := func(cluster, ref string) string {
		t.Helper()
		page := get("/images?cluster=" + url.QueryEscape(cluster))
		for _, r := range strings.Split(page, "<tr>") {
			if strings.Contains(r, "<code>"+ref+"</code>") {
				return r
			}
		}
		t.Fatalf("/images?cluster=%s: no row of %s", cluster, ref)
		return ""
	}
	for _, c := range []struct {
		name, cluster, ref string
		want, not          []string
	}{
		{"catalogued only", noDB.ClusterID, "registry.example/own:1", []string{"not matched", "catalogued", fleetapi.ImageScanNotMatched}, []string{`class="count`, "scan failed"}},
		{"catalogued, matched elsewhere", noDB.ClusterID, "registry.example/app:1", []string{"not matched"}, []string{`class="count`}},
		{"matched", withDB.ClusterID, "registry.example/app:1", []string{`class="count`}, []string{"not matched", "catalogued"}},
	} {
		expectText(t, c.name+": images row", row(c.cluster, c.ref), c.want, c.not)
	}
	for _, c := range []struct {
		name, digest string
		want, not    []string
	}{
		{"catalogued only", own, []string{`id="not-matched"`, "edge-nodb", "Unknown: the image was not matched", "<span class=\"warn\">not matched</span></h2>"},
			[]string{"No vulnerabilities reported", `<span class="counts">`}},
		{"catalogued in one cluster, matched in the other", shared, []string{`id="not-matched"`, "edge-nodb</a>: the agent there", "No vulnerabilities reported", `<span class="counts">`},
			[]string{"Unknown: the image was not matched", "edge-db</a>: the agent"}},
	} {
		expectText(t, c.name+": image page", get("/images/"+url.PathEscape(c.digest)), c.want, c.not)
	}
	expectText(t, "vulnerability search", get("/vulnerabilities?q=CVE-2026-0001"),
		[]string{"No cluster runs an image affected by CVE-2026-0001", `id="not-searched"`, "of 3 images in use, 2 not matched against vulnerability data"}, nil)
	resp, body := b.do("GET", "/api/v1/vulnerabilities/CVE-2026-0001/clusters", nil, nil)
	var api struct {
		Clusters    []json.RawMessage
		NotSearched store.ImageCoverage
	}
	if err := json.Unmarshal([]byte(body), &api); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("affected clusters API: %d %v %s", resp.StatusCode, err, body)
	}
	if want := (store.ImageCoverage{InUse: 3, NotMatched: 2}); len(api.Clusters) != 0 || api.NotSearched != want {
		t.Errorf("affected clusters API: %s, want no cluster and not searched %+v", body, want)
	}
}

// expectText checks that text holds every string of want and none of not.
func expectText(t *testing.T, what, text string, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: no %q", what, w)
		}
	}
	for _, w := range not {
		if strings.Contains(text, w) {
			t.Errorf("%s: unexpected %q", what, w)
		}
	}
}
