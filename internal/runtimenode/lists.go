package runtimenode

// The first lists of the sensor's Node and pod informers, bounded: where
// the API server does not stream initial lists, they are listed a page
// of listPage objects at a time, each page stripped before the next is
// fetched (internal/kubelist).

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/kubelist"
)

// listPage is how many objects one list request of a paged list asks
// for.
const listPage = kubelist.Page

// newNodeInformer is the sensor's Node informer: stripped by StripNode,
// streamed where the API server streams initial lists, listed page by
// page (each page stripped before the next) where it does not.
func newNodeInformer(client kubernetes.Interface, page int64) (cache.SharedIndexInformer, error) {
	nodes := client.CoreV1().Nodes()
	return kubelist.NewInformer(client, kubelist.Informer{Example: &corev1.Node{}, What: "nodes", Page: page, Strip: StripNode,
		List: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return nodes.List(ctx, opts)
		},
		Watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return nodes.Watch(ctx, opts)
		}})
}

// newPodInformer is the sensor's pod informer, in every namespace, its
// lists and watches narrowed by tweak (nil: every pod), stripped by
// strip, listed page by page where the API server does not stream. No
// indexers: the sensor reads its informers' stores whole or through
// their handlers.
func newPodInformer(client kubernetes.Interface, page int64, strip cache.TransformFunc, tweak func(*metav1.ListOptions)) (cache.SharedIndexInformer, error) {
	pods := client.CoreV1().Pods(metav1.NamespaceAll)
	return kubelist.NewInformer(client, kubelist.Informer{Example: &corev1.Pod{}, What: "pods", Page: page, Strip: strip, Tweak: tweak,
		List: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		Watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		}})
}
