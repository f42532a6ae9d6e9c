package runtimenode

// The images' executable paths for the node sensors' drift check
// (PAL-RT-006, evidence SBOM): the agent publishes each scanned image's
// executable paths, hashed, in the runtime namespace's shard ConfigMaps
// (ImageFilesPublisher, called by internal/agent/imagefiles.go); the
// sensor reads the sets of the images its containers run
// (imageFilesReader). The design and its bounds are in
// internal/runtime/imagefiles.go and docs/runtime.md.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// imageFilesReader is the node sensor's runtime.ImageFileSets: it fetches
// the set of each image its containers run from the image's shard, in the
// background (the pipeline never waits on the API server), and keeps at
// most maxImageSets sets (an image's content never changes, so a set is
// kept until evicted). An image whose set is not published is asked for
// again after imageFilesRetry.
type imageFilesReader struct {
	client    kubernetes.Interface
	namespace string
	prefix    string
	log       *slog.Logger
	now       func() time.Time
	want      chan string

	mu   sync.Mutex
	sets map[string]*imageSetEntry // by digest
	// errors counts shards that could not be read and sets that did not
	// decode (the drift check then uses the node's own evidence).
	errors atomic.Uint64
}

type imageSetEntry struct {
	set   *rt.ImageFiles // nil: not published (yet), or unreadable
	asked time.Time
	used  time.Time
}

const (
	maxImageSets    = 512
	imageFilesRetry = 30 * time.Second
)

func newImageFilesReader(client kubernetes.Interface, namespace, prefix string, log *slog.Logger, now func() time.Time) *imageFilesReader {
	return &imageFilesReader{client: client, namespace: namespace, prefix: prefix, log: log, now: now,
		want: make(chan string, 64), sets: map[string]*imageSetEntry{}}
}

// ImageFilesOf implements runtime.ImageFileSets.
func (r *imageFilesReader) ImageFilesOf(image string) *rt.ImageFiles {
	digest := fleetapi.DigestOf(image)
	if digest == "" {
		return nil
	}
	now := r.now()
	r.mu.Lock()
	e := r.sets[digest]
	if e != nil && (e.set != nil || now.Sub(e.asked) < imageFilesRetry) {
		e.used = now
		set := e.set // run sets it under mu
		r.mu.Unlock()
		return set
	}
	if e == nil {
		r.evictLocked()
		e = &imageSetEntry{}
		r.sets[digest] = e
	}
	e.asked, e.used = now, now
	r.mu.Unlock()
	select {
	case r.want <- digest:
	default: // asked again after imageFilesRetry
	}
	return nil
}

// evictLocked makes room for one more set: the least recently used goes.
func (r *imageFilesReader) evictLocked() {
	if len(r.sets) < maxImageSets {
		return
	}
	var oldest string
	var at time.Time
	for d, e := range r.sets {
		if oldest == "" || e.used.Before(at) {
			oldest, at = d, e.used
		}
	}
	delete(r.sets, oldest)
}

// run fetches the sets asked for until ctx ends.
func (r *imageFilesReader) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-r.want:
			set, err := r.fetch(ctx, d)
			if err != nil && ctx.Err() == nil {
				if n := r.errors.Add(1); n&(n-1) == 0 {
					r.log.Warn("image file set not read; drift falls back to the node's own evidence", slog.String("image", d), slog.Any("error", err), slog.Uint64("errors", n))
				}
			}
			if set == nil {
				continue
			}
			r.mu.Lock()
			if e := r.sets[d]; e != nil {
				e.set = set
			}
			r.mu.Unlock()
		}
	}
}

// fetch reads digest's set: nil, nil when it is not published.
func (r *imageFilesReader) fetch(ctx context.Context, digest string) (*rt.ImageFiles, error) {
	key, shard, ok := rt.ImageFilesKey(digest)
	if !ok {
		return nil, nil
	}
	name := rt.ImageFilesConfigMap(r.prefix, shard)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cm, err := r.client.CoreV1().ConfigMaps(r.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w", r.namespace, name, err)
	}
	b, ok := cm.BinaryData[key]
	if !ok {
		return nil, nil
	}
	set, err := rt.DecodeImageFiles(b)
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s key %s: %w", r.namespace, name, key, err)
	}
	return set, nil
}

// NewImageFilesPublisher writes the shards NAMESPACE/PREFIX0…7 (where) for
// the agent.
func NewImageFilesPublisher(client kubernetes.Interface, where string, log *slog.Logger) (*ImageFilesPublisher, error) {
	ns, prefix, ok := strings.Cut(where, "/")
	if !ok || ns == "" || prefix == "" {
		return nil, fmt.Errorf("runtime image files %q: want NAMESPACE/PREFIX (palisade-system/%s)", where, rt.ImageFilesPrefix)
	}
	return &ImageFilesPublisher{client: client, namespace: ns, prefix: prefix, log: log}, nil
}

// ImageFilesPublisher writes image file sets into the shards.
type ImageFilesPublisher struct {
	client    kubernetes.Interface
	namespace string
	prefix    string
	log       *slog.Logger
	mu        sync.Mutex // one read-modify-write at a time
	failures  atomic.Uint64
}

// Failures counts the sets that could not be written.
func (p *ImageFilesPublisher) Failures() uint64 { return p.failures.Load() }

// errShardFull: the shard has no room for the set even without the sets
// of images no longer running.
var errShardFull = errors.New("image file shard full")

// Publish writes the set of digest's executable paths into its shard
// unless it is there already, dropping the sets of images live says no
// longer run.
func (p *ImageFilesPublisher) Publish(ctx context.Context, digest string, paths []string, live func(digest string) bool) error {
	key, shard, ok := rt.ImageFilesKey(digest)
	if !ok {
		return nil
	}
	data := rt.NewImageFiles(paths).Encode()
	name := rt.ImageFilesConfigMap(p.prefix, shard)
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	for range 4 {
		if err = p.write(ctx, name, key, data, live); !apierrors.IsConflict(err) {
			break
		}
	}
	if err != nil {
		p.failures.Add(1)
		return fmt.Errorf("image %s: ConfigMap %s/%s: %w", digest, p.namespace, name, err)
	}
	return nil
}

func (p *ImageFilesPublisher) write(ctx context.Context, name, key string, data []byte, live func(string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cm, err := p.client.CoreV1().ConfigMaps(p.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if bytes.Equal(cm.BinaryData[key], data) {
		return nil
	}
	if cm.BinaryData == nil {
		cm.BinaryData = map[string][]byte{}
	}
	size := len(key) + len(data)
	for k, v := range cm.BinaryData {
		if k == key {
			continue
		}
		if d := "sha256:" + strings.TrimPrefix(k, "sha256-"); !live(d) {
			delete(cm.BinaryData, k)
			continue
		}
		size += len(k) + len(v)
	}
	if size > rt.ImageFilesShardBytes {
		return fmt.Errorf("%w: %d bytes with this image, over %d", errShardFull, size, rt.ImageFilesShardBytes)
	}
	cm.BinaryData[key] = data
	_, err = p.client.CoreV1().ConfigMaps(p.namespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "palisade-agent"})
	return err
}
