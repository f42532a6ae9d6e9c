package imagescan

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/palisade-sec/palisade/internal/image"
)

// DefaultLayerCacheBytes bounds a LayerDiskCache made with max <= 0.
const DefaultLayerCacheBytes = 512 << 20

// maxLayerEntryBytes caps one cached layer record.
const maxLayerEntryBytes = 256 << 20

// LayerDiskCache keeps what each layer contributed to a walk (its entries,
// the package databases and files the catalogers keep, the results of
// stream catalogers and of the secret scan), content-addressed by layer
// digest, the scan's selection and AnalyzerVersion, bounded in bytes
// (least recently used first). A new image that shares base layers with
// one scanned before reads only its own layers. Like DiskCache, a corrupt
// entry is a miss and the layer is read again.
type LayerDiskCache struct {
	files *lruDir
}

// NewLayerDiskCache returns a layer cache in dir (created if missing)
// holding at most max bytes (DefaultLayerCacheBytes when max <= 0).
func NewLayerDiskCache(dir string, max int64) (*LayerDiskCache, error) {
	if max <= 0 {
		max = DefaultLayerCacheBytes
	}
	d, err := newLRUDir(dir, max, ".layer")
	if err != nil {
		return nil, fmt.Errorf("layer cache %s: %w", dir, err)
	}
	return &LayerDiskCache{files: d}, nil
}

// layerEntry is the file format; the full key guards against collisions.
type layerEntry struct {
	Analyzer string
	Key      string
	Record   *image.LayerRecord
}

// GetLayer returns the record kept under key.
func (c *LayerDiskCache) GetLayer(key string) (*image.LayerRecord, bool) {
	b, ok := c.files.read(key, maxLayerEntryBytes)
	if !ok {
		return nil, false
	}
	var e layerEntry
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&e); err != nil || e.Analyzer != AnalyzerVersion || e.Key != key || e.Record == nil {
		return nil, false
	}
	return e.Record, true
}

// PutLayer keeps rec under key; failures are ignored.
func (c *LayerDiskCache) PutLayer(key string, rec *image.LayerRecord) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(layerEntry{Analyzer: AnalyzerVersion, Key: key, Record: rec}); err != nil || buf.Len() > maxLayerEntryBytes {
		return
	}
	c.files.write(key, buf.Bytes())
}

// Size is the bytes of records in the cache directory.
func (c *LayerDiskCache) Size() int64 { return c.files.size() }

// scopedLayers keys a LayerCache by the layer digest and the scan's
// selection (scanners, catalogers, secret options, size limits), so a
// record is replayed only into a walk that selects the same files.
type scopedLayers struct {
	c     image.LayerCache
	scope string
}

func (s scopedLayers) GetLayer(digest string) (*image.LayerRecord, bool) {
	return s.c.GetLayer(digest + "|" + s.scope)
}

func (s scopedLayers) PutLayer(digest string, rec *image.LayerRecord) {
	s.c.PutLayer(digest+"|"+s.scope, rec)
}
