package testenv

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// NoWatchList is a client that says it cannot stream initial lists, as
// one of an API server without WatchList: informers list instead.
type NoWatchList struct{ kubernetes.Interface }

// IsWatchListSemanticsUnSupported says the client cannot stream lists.
func (NoWatchList) IsWatchListSemanticsUnSupported() bool { return true }

// ListRequests is an http.RoundTripper (Next) that records the list
// requests for the collection at Path ("/api/v1/pods") and their
// answers, and can spoil the first continued request of a list (Spoil,
// if not ""): "gone" answers it 410 Expired without asking the server,
// as the API server answers a continue token older than etcd's
// compaction (a 1.37 server continues lists from its watch cache, which
// etcd's compaction does not reach, so a real one cannot be provoked at
// will); "forged" sends it with its token naming revision 2 instead of
// its own, which the server answers from another version than the
// list's. Watches pass unrecorded.
type ListRequests struct {
	Path  string
	Spoil string
	Next  http.RoundTripper

	mu      sync.Mutex
	queries []url.Values
	codes   []int
	spoiled bool
}

// RoundTrip records, spoils if asked, and passes req on.
func (r *ListRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if req.URL.Path != r.Path || q.Get("watch") == "true" {
		return r.Next.RoundTrip(req)
	}
	r.mu.Lock()
	spoil := r.Spoil != "" && !r.spoiled && q.Get("continue") != ""
	r.spoiled = r.spoiled || spoil
	r.mu.Unlock()
	var resp *http.Response
	var err error
	switch {
	case spoil && r.Spoil == "gone":
		body := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.","reason":"Expired","code":410}`
		resp = &http.Response{StatusCode: http.StatusGone, Status: "410 Gone", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
	case spoil:
		var tok string
		if tok, err = forgedToken(q.Get("continue")); err == nil {
			fq := req.URL.Query()
			fq.Set("continue", tok)
			req = req.Clone(req.Context())
			req.URL.RawQuery = fq.Encode()
			resp, err = r.Next.RoundTrip(req)
		}
	default:
		resp, err = r.Next.RoundTrip(req)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	r.codes = append(r.codes, code)
	return resp, err
}

// Seen returns the recorded list requests' queries and answers' status
// codes (0: the request failed).
func (r *ListRequests) Seen() ([]url.Values, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries), slices.Clone(r.codes)
}

// forgedToken is the continue token tok naming revision 2 instead of its
// own.
func forgedToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil {
		return "", fmt.Errorf("continue token %q: %w", tok, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("continue token %q: %w", raw, err)
	}
	if _, ok := m["rv"]; !ok {
		return "", fmt.Errorf("continue token %s names no revision", raw)
	}
	m["rv"] = 2
	out, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// CheckPages fails t unless the recorded list requests are as a paged
// list makes them: none where the informer streamed (stream); else every
// one asking for page objects, at least minPages of them, and a list
// started again (a request without continue token after the first)
// exactly when the list was spoiled.
func (r *ListRequests) CheckPages(t testing.TB, stream bool, page, minPages int) {
	t.Helper()
	queries, codes := r.Seen()
	var lists, firsts int
	for _, q := range queries {
		lists++
		if q.Get("continue") == "" {
			firsts++
		}
		if q.Get("limit") != fmt.Sprint(page) {
			t.Errorf("list request %v: want limit=%d", q, page)
		}
	}
	switch {
	case stream && lists != 0:
		t.Errorf("streamed, yet %d list requests: %v", lists, queries)
	case !stream && lists < minPages:
		t.Errorf("%d list requests (%v): want at least %d pages of %d", lists, queries, minPages, page)
	case !stream && (r.Spoil != "") != (firsts > 1):
		t.Errorf("%d lists started (%v, answers %v): want a list again %v", firsts, queries, codes, r.Spoil != "")
	}
}
