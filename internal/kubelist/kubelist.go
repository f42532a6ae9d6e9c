// Package kubelist lists Kubernetes collections for informers a page at
// a time, each page passed through the informer's transform before the
// next is fetched, so that no list is ever held whole in memory.
//
// An informer fills its cache in one of two ways. Where the API server
// streams initial lists (WatchList: Kubernetes 1.34 and later by
// default, and client-go from v0.35), the reflector opens a watch that
// sends every object as an event and strips each one by the informer's
// transform as it arrives, so only one whole object at a time is
// decoded. Where it does not (1.33 and older, or the feature turned
// off), the reflector lists, and client-go's pager gathers every page
// into one list before the transform runs: 1,000 realistic Nodes are
// 13 MB of JSON and about 19 MiB of decoded objects at once, for a
// cache of 2.3 MiB; 1,000 pods with their statuses about 10 MiB for a
// cache of a few. NewInformer's list function therefore asks for Page
// objects at a time and strips each page before fetching the next
// (Paged). The runtime sensor (internal/runtimenode) and the agent's
// pod informer (internal/agent) both list this way.
package kubelist

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Page is how many objects one list request of a paged list asks for by
// default: 100 realistic Nodes are about 1.3 MB of JSON.
const Page = 100

// ListFunc lists one page of a collection.
type ListFunc func(context.Context, metav1.ListOptions) (runtime.Object, error)

// WatchFunc watches a collection.
type WatchFunc func(context.Context, metav1.ListOptions) (watch.Interface, error)

// Informer describes an informer NewInformer makes.
type Informer struct {
	// Example is an object of the informer's type; What names it in the
	// reflector's logs ("pods").
	Example runtime.Object
	What    string
	// Page is the page size of lists (0: Page).
	Page int64
	// Strip is the informer's transform; it must give the same result
	// when run again (the store runs it on listed objects too).
	Strip cache.TransformFunc
	// Tweak narrows lists and watches (nil: as asked).
	Tweak func(*metav1.ListOptions)
	List  ListFunc
	Watch WatchFunc
	// Resync is the informer's resync period (0: none); Indexers its
	// indexers (nil: none).
	Resync   time.Duration
	Indexers cache.Indexers
}

// NewInformer is an informer over d.List and d.Watch, both given the
// options after d.Tweak, with d.Strip as its transform: streamed where
// the API server streams initial lists, listed page by page (Paged)
// where it does not.
func NewInformer(client kubernetes.Interface, d Informer) (cache.SharedIndexInformer, error) {
	tweak := d.Tweak
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	page := d.Page
	if page <= 0 {
		page = Page
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			tweak(&opts)
			return Paged(ctx, opts, page, d.Strip, d.List)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			tweak(&opts)
			return d.Watch(ctx, opts)
		},
	}
	// As client-go's own informers: the client says whether it can
	// stream (a fake client cannot).
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), d.Example,
		cache.SharedIndexInformerOptions{ObjectDescription: d.What, ResyncPeriod: d.Resync, Indexers: d.Indexers})
	if err := inf.SetTransform(d.Strip); err != nil {
		return nil, fmt.Errorf("%s informer: %w", d.What, err)
	}
	return inf, nil
}

// Paged lists with opts a page of page objects at a time, passes each
// object through strip before the next page is fetched, and returns one
// list of the stripped objects: the first page's list, its items
// replaced, at the first page's resource version (every page of a list
// is read at that version). strip must give the same result when run
// again (the informer's store runs its transform on the list too). An
// expired continue token (410) fails the list, as does a continued page
// at another version than the first; the reflector then lists again
// from the start, so no object is cached from a part of a list.
//
// The reflector's first list asks for resource version "0", the API
// server's watch cache, which ignores the limit and answers with every
// object at once. So that list is made at the latest version instead
// (resource version unset), as `kubectl get` and client-go's pager do:
// the server reads it a page at a time (from etcd where its cache cannot
// page). Only servers that do not stream lists get here, once at start
// and when a watch cannot resume.
func Paged(ctx context.Context, opts metav1.ListOptions, page int64, strip cache.TransformFunc, list ListFunc) (runtime.Object, error) {
	opts.Limit = page
	if opts.ResourceVersion == "0" {
		opts.ResourceVersion, opts.ResourceVersionMatch = "", ""
	}
	var first runtime.Object
	var rv string
	var items []runtime.Object
	for {
		got, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		objs, err := meta.ExtractList(got)
		if err != nil {
			return nil, fmt.Errorf("paged list: %w", err)
		}
		for _, o := range objs {
			s, err := strip(o)
			if err != nil {
				return nil, fmt.Errorf("paged list: %w", err)
			}
			so, ok := s.(runtime.Object)
			if !ok {
				return nil, fmt.Errorf("paged list: the transform returned %T", s)
			}
			items = append(items, so)
		}
		lm, err := meta.ListAccessor(got)
		if err != nil {
			return nil, fmt.Errorf("paged list: %w", err)
		}
		next := lm.GetContinue()
		if first == nil {
			first, rv = got, lm.GetResourceVersion()
		} else if v := lm.GetResourceVersion(); v != rv {
			// Not one list: the reflector lists again.
			return nil, fmt.Errorf("paged list: a continued page at resource version %q, the first at %q", v, rv)
		}
		if next == "" {
			break
		}
		// A continued list names no version: the token holds it.
		opts.Continue, opts.ResourceVersion, opts.ResourceVersionMatch = next, "", ""
	}
	if err := meta.SetList(first, items); err != nil {
		return nil, fmt.Errorf("paged list: %w", err)
	}
	lm, err := meta.ListAccessor(first)
	if err != nil {
		return nil, fmt.Errorf("paged list: %w", err)
	}
	lm.SetContinue("")
	lm.SetRemainingItemCount(nil)
	return first, nil
}
