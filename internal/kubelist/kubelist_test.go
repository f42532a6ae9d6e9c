package kubelist

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestListPaged lists n Nodes (each with images) through Paged from a
// server answering pages of at most the asked limit: every Node must come
// back once, stripped, at the first page's version, with no continue
// token; each request must ask for the page size, the first at the
// latest version where the reflector asked for "0" (the watch cache
// would ignore the limit), the following ones by continue token alone;
// errors of a page or of the transform, and a continued page at another
// version than the first, fail the list.
func TestListPaged(t *testing.T) {
	// stripNode keeps a Node's name, labels and addresses, as the
	// runtime sensor's transform does.
	stripNode := func(obj any) (any, error) {
		nd, ok := obj.(*corev1.Node)
		if !ok {
			return obj, nil
		}
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nd.Name, Labels: nd.Labels}, Status: corev1.NodeStatus{Addresses: nd.Status.Addresses}}, nil
	}
	fat := func(i int) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%03d", i), Labels: map[string]string{"i": fmt.Sprint(i)}},
			Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"a"}}}, Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}}}
	}
	for _, tc := range []struct {
		name           string
		n, page        int
		rv, wantFirst  string
		failPage       int // 1-based page whose request fails (0: none)
		strip          func(any) (any, error)
		wantRequests   int
		wantErr        string
		serverNoLimits bool // the server answers everything at once
		otherVersion   bool // continued pages come at another version
	}{
		{name: "pages", n: 25, page: 10, rv: "0", wantFirst: "", wantRequests: 3},
		{name: "exact pages", n: 20, page: 10, rv: "0", wantFirst: "", wantRequests: 2},
		{name: "one page", n: 3, page: 10, rv: "0", wantFirst: "", wantRequests: 1},
		{name: "empty", n: 0, page: 10, rv: "0", wantFirst: "", wantRequests: 1},
		{name: "relist at a version", n: 15, page: 10, rv: "77", wantFirst: "77", wantRequests: 2},
		{name: "server ignores the limit", n: 15, page: 10, rv: "0", wantFirst: "", wantRequests: 1, serverNoLimits: true},
		{name: "second page fails", n: 25, page: 10, rv: "0", failPage: 2, wantErr: "page 2 refused"},
		{name: "continued at another version", n: 25, page: 10, rv: "0", otherVersion: true, wantErr: `a continued page at resource version "other", the first at "500"`},
		{name: "transform fails", n: 5, page: 10, rv: "0", strip: func(any) (any, error) { return nil, errors.New("bad node") }, wantErr: "bad node"},
		{name: "transform returns no object", n: 5, page: 10, rv: "0", strip: func(any) (any, error) { return "x", nil }, wantErr: "the transform returned string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reqs []metav1.ListOptions
			list := func(_ context.Context, o metav1.ListOptions) (runtime.Object, error) {
				reqs = append(reqs, o)
				if len(reqs) == tc.failPage {
					return nil, fmt.Errorf("page %d refused", len(reqs))
				}
				from := 0
				if o.Continue != "" {
					from, _ = strconv.Atoi(strings.TrimPrefix(o.Continue, "c"))
				}
				to := min(from+int(o.Limit), tc.n)
				if tc.serverNoLimits {
					to = tc.n
				}
				l := &corev1.NodeList{ListMeta: metav1.ListMeta{ResourceVersion: "500"}}
				for i := from; i < to; i++ {
					l.Items = append(l.Items, fat(i))
				}
				if to < tc.n {
					l.Continue = fmt.Sprint("c", to)
					rest := int64(tc.n - to)
					l.RemainingItemCount = &rest
				}
				if o.Continue != "" && tc.otherVersion {
					l.ResourceVersion = "other"
				}
				return l, nil
			}
			strip := stripNode
			if tc.strip != nil {
				strip = tc.strip
			}
			got, err := Paged(context.Background(), metav1.ListOptions{ResourceVersion: tc.rv, Limit: 500}, int64(tc.page), strip, list)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			nl := got.(*corev1.NodeList)
			if len(nl.Items) != tc.n || nl.ResourceVersion != "500" || nl.Continue != "" || nl.RemainingItemCount != nil {
				t.Fatalf("%d items at version %q, continue %q, remaining %v: want %d at 500, none left", len(nl.Items), nl.ResourceVersion, nl.Continue, nl.RemainingItemCount, tc.n)
			}
			for i, n := range nl.Items {
				if n.Name != fmt.Sprintf("n%03d", i) || len(n.Status.Images) != 0 || len(n.Status.Addresses) != 1 || n.Labels["i"] != fmt.Sprint(i) {
					t.Fatalf("item %d: %+v, want n%03d stripped", i, n, i)
				}
			}
			if len(reqs) != tc.wantRequests {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), tc.wantRequests, reqs)
			}
			for i, o := range reqs {
				wantRV, wantCont := tc.wantFirst, ""
				if i > 0 {
					wantRV, wantCont = "", fmt.Sprint("c", i*tc.page)
				}
				if o.Limit != int64(tc.page) || o.ResourceVersion != wantRV || o.Continue != wantCont {
					t.Errorf("request %d: %+v, want limit %d, version %q, continue %q", i, o, tc.page, wantRV, wantCont)
				}
			}
		})
	}
}
