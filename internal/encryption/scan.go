package encryption

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// DefaultPageSize is how many values one etcd range request returns.
const DefaultPageSize = 500

// ScanOptions say what to read.
type ScanOptions struct {
	// Prefix is the API server's --etcd-prefix (default /registry).
	Prefix string
	// Resources to read (default secrets): "secrets", "configmaps", or
	// "<resource>.<group>", stored under <prefix>/<resource>/.
	Resources []string
	// PageSize is the number of values per range request.
	PageSize int64
	// Progress, when set, is called after each page.
	Progress func(resource string, read int, total int64)
}

// Object is one stored object and how it is stored.
type Object struct {
	Key       string
	Namespace string
	Name      string
	Storage   Storage
}

// ResourceInventory is what was stored for one resource.
type ResourceInventory struct {
	Resource string
	Objects  []Object
	// Counts maps a storage label ("plaintext", "aescbc:key1",
	// "kms-v2:vault") to how many objects are stored so.
	Counts map[string]int
}

// Inventory is the result of a scan, read at one etcd revision.
type Inventory struct {
	Revision  int64
	Resources []ResourceInventory
}

// Scan reads the raw values of the resources from etcd, page by page at
// one revision, and classifies each. It keeps no value, only how each is
// stored.
func Scan(ctx context.Context, kv KV, o ScanOptions) (*Inventory, error) {
	if o.Prefix == "" {
		o.Prefix = "/registry"
	}
	if len(o.Resources) == 0 {
		o.Resources = []string{"secrets"}
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	inv := &Inventory{}
	for _, res := range o.Resources {
		prefix := KeyPrefix(o.Prefix, res)
		// Keys only first: the total for progress costs no values.
		total, err := kv.Count(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res, err)
		}
		ri := ResourceInventory{Resource: res, Counts: map[string]int{}}
		from, end := prefix, prefixEnd(prefix)
		for {
			kvs, more, rev, err := kv.Page(ctx, from, end, o.PageSize, inv.Revision, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", res, err)
			}
			if inv.Revision == 0 {
				inv.Revision = rev
			}
			for _, e := range kvs {
				ns, name := splitKey(strings.TrimPrefix(e.Key, prefix))
				st := Classify(e.Value)
				ri.Objects = append(ri.Objects, Object{Key: e.Key, Namespace: ns, Name: name, Storage: st})
				ri.Counts[st.Label()]++
			}
			if o.Progress != nil {
				o.Progress(res, len(ri.Objects), total)
			}
			if !more || len(kvs) == 0 {
				break
			}
			from = kvs[len(kvs)-1].Key + "\x00"
		}
		inv.Resources = append(inv.Resources, ri)
	}
	return inv, nil
}

// KeyPrefix returns the etcd key prefix of a resource, with a trailing "/".
// Objects of "deployments.apps" live under <prefix>/deployments/, as the
// API server stores most group resources by resource name.
func KeyPrefix(etcdPrefix, resource string) string {
	name, _, _ := strings.Cut(resource, ".")
	return strings.TrimSuffix(etcdPrefix, "/") + "/" + name + "/"
}

// splitKey turns "ns/name" into its parts, and "name" (cluster-scoped)
// into ("", name).
func splitKey(rest string) (namespace, name string) {
	if ns, n, ok := strings.Cut(rest, "/"); ok {
		return ns, n
	}
	return "", rest
}

// Labels returns the storage labels of a resource, most objects first.
func (r ResourceInventory) Labels() []string {
	labels := make([]string, 0, len(r.Counts))
	for l := range r.Counts {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if r.Counts[labels[i]] != r.Counts[labels[j]] {
			return r.Counts[labels[i]] > r.Counts[labels[j]]
		}
		return labels[i] < labels[j]
	})
	return labels
}

// Encrypted counts the objects stored with any encrypting provider.
func (r ResourceInventory) Encrypted() int {
	n := 0
	for _, o := range r.Objects {
		if o.Storage.Encrypted {
			n++
		}
	}
	return n
}

// Stale returns the objects that a rewrite would change: plaintext ones,
// and, when the writing storage is known, those stored otherwise.
func (r ResourceInventory) Stale(write *Storage) []Object {
	var out []Object
	for _, o := range r.Objects {
		switch {
		case o.Storage.Provider == ProviderUnknown:
		case write != nil && o.Storage != *write:
			out = append(out, o)
		case write == nil && !o.Storage.Encrypted:
			out = append(out, o)
		}
	}
	return out
}
