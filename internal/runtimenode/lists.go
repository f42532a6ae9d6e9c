package runtimenode

// The first lists of the sensor's Node and pod informers, bounded. An
// informer fills its cache in one of two ways. Where the API server
// streams initial lists (WatchList: Kubernetes 1.34 and later by
// default, and client-go from v0.35), the reflector opens a watch that
// sends every object as an event and strips each one by the informer's
// transform as it arrives, so only one whole object at a time is
// decoded. Where it does not (1.33 and older, or the feature turned
// off), the reflector lists, and client-go's pager gathers every page
// into one list before the transform runs: 1,000 realistic Nodes are
// 13 MB of JSON and about 19 MiB of decoded objects at once, for a
// cache of 2.3 MiB; 1,000 pods with their statuses about 10 MiB for a
// cache of a few. The informers' list functions therefore ask for
// listPage objects at a time and strip each page before fetching the
// next (listPaged, newPagedInformer).

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// listPage is how many objects one list request of a paged list asks
// for: 100 realistic Nodes are about 1.3 MB of JSON.
const listPage = 100

// newNodeInformer is the sensor's Node informer: stripped by StripNode,
// streamed where the API server streams initial lists, listed page by
// page (each page stripped before the next) where it does not.
func newNodeInformer(client kubernetes.Interface, page int64) (cache.SharedIndexInformer, error) {
	nodes := client.CoreV1().Nodes()
	return newPagedInformer(client, &corev1.Node{}, "nodes", page, StripNode, nil,
		func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return nodes.List(ctx, opts)
		},
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return nodes.Watch(ctx, opts)
		})
}

// newPodInformer is the sensor's pod informer, in every namespace, its
// lists and watches narrowed by tweak (nil: every pod), stripped by
// strip, listed page by page where the API server does not stream.
func newPodInformer(client kubernetes.Interface, page int64, strip cache.TransformFunc, tweak func(*metav1.ListOptions)) (cache.SharedIndexInformer, error) {
	pods := client.CoreV1().Pods(metav1.NamespaceAll)
	return newPagedInformer(client, &corev1.Pod{}, "pods", page, strip, tweak,
		func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		})
}

// newPagedInformer is an informer of example's type (what names it in
// the reflector's logs) over list and watch, both given the options
// after tweak (nil: as asked), with strip as its transform: streamed
// where the API server streams initial lists, listed page by page
// (listPaged) where it does not. No indexers: the sensor reads its
// informers' stores whole or through their handlers.
func newPagedInformer(client kubernetes.Interface, example runtime.Object, what string, page int64, strip cache.TransformFunc, tweak func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (runtime.Object, error), watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) (cache.SharedIndexInformer, error) {
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			tweak(&opts)
			return listPaged(ctx, opts, page, strip, list)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			tweak(&opts)
			return watchFn(ctx, opts)
		},
	}
	// As client-go's own informers: the client says whether it can
	// stream (a fake client cannot).
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), example,
		cache.SharedIndexInformerOptions{ObjectDescription: what})
	if err := inf.SetTransform(strip); err != nil {
		return nil, fmt.Errorf("%s informer: %w", what, err)
	}
	return inf, nil
}

// listPaged lists with opts a page of page objects at a time, passes each
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
func listPaged(ctx context.Context, opts metav1.ListOptions, page int64, strip cache.TransformFunc, list func(context.Context, metav1.ListOptions) (runtime.Object, error)) (runtime.Object, error) {
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
