package encryption

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// RewriteResult counts what a rewrite did.
type RewriteResult struct {
	Rewritten int
	// Gone counts objects deleted between the scan and the rewrite.
	Gone   int
	Errors []error
}

// GroupVersionResource maps a scanned resource name to the API it is
// served by: core resources ("secrets") are v1; "<resource>.<group>"
// needs its version, given as "<resource>.<version>.<group>".
func GroupVersionResource(resource string) (schema.GroupVersionResource, error) {
	parts := strings.SplitN(resource, ".", 3)
	switch len(parts) {
	case 1:
		return schema.GroupVersionResource{Version: "v1", Resource: parts[0]}, nil
	case 3:
		return schema.GroupVersionResource{Group: parts[2], Version: parts[1], Resource: parts[0]}, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("resource %q: to rewrite a resource outside the core group, name it <resource>.<version>.<group>", resource)
}

// Rewrite makes the API server store each object again, unchanged, as
// `kubectl replace` does: an update of an object the storage read with a
// key other than the writing one is written even though nothing changed,
// so it ends up encrypted with the current key. Conflicts are retried with
// a fresh read; objects deleted meanwhile are counted as gone.
func Rewrite(ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource, objects []Object) RewriteResult {
	var res RewriteResult
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			res.Errors = append(res.Errors, err)
			return res
		}
		var ri dynamic.ResourceInterface = client.Resource(gvr)
		if o.Namespace != "" {
			ri = client.Resource(gvr).Namespace(o.Namespace)
		}
		gone := false
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := ri.Get(ctx, o.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				gone = true
				return nil
			}
			if err != nil {
				return err
			}
			_, err = ri.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "palisade-encryption-rewrite"})
			if apierrors.IsNotFound(err) {
				gone = true
				return nil
			}
			return err
		})
		switch {
		case err != nil:
			res.Errors = append(res.Errors, fmt.Errorf("rewrite %s %s/%s: %w", gvr.Resource, o.Namespace, o.Name, err))
		case gone:
			res.Gone++
		default:
			res.Rewritten++
		}
	}
	return res
}
