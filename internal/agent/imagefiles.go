package agent

// The images' executable paths for the node sensors' drift check
// (PAL-RT-006, evidence SBOM). The agent walks each running image when it
// scans it, or catalogues it when it has no vulnerability database
// (ImageCataloguer); it publishes the image's executable paths, hashed
// (runtime.ImageFiles), in the fixed shard ConfigMaps of the runtime
// namespace (runtime.ImageFilesConfigMap), where the sensors read the
// sets of the images their containers run. Fixed names keep both sides'
// RBAC to get/update (agent) and get (sensor) on those objects alone; the
// design and its bounds are in internal/runtime/imagefiles.go and
// docs/runtime.md; the shards are written and read in
// internal/runtimenode/imagefiles.go.

import (
	"context"
	"log/slog"

	"github.com/palisade-sec/palisade/internal/imagescan"
)

// ImageExecutables is implemented by an ImageScanner that keeps each
// scanned image's executable paths (RegistryScanner): nil when it has
// none for the digest.
type ImageExecutables interface {
	Executables(digest string) *imagescan.Executables
}

// publishImageFiles publishes a scanned or catalogued image's executable paths, when the
// agent publishes them and its scanner keeps them. A failure is logged:
// the sensors then judge that image's drift by their own evidence.
func (a *Agent) publishImageFiles(ctx context.Context, digest string) {
	lister, ok := a.cfg.Scanner.(ImageExecutables)
	if a.imageFiles == nil || !ok {
		return
	}
	live := func(d string) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.running[d]
	}
	// An image over the list's bound is not published (its drift falls
	// back to the node's own evidence).
	x := lister.Executables(digest)
	if x == nil || x.Over {
		return
	}
	if err := a.imageFiles.Publish(ctx, digest, x.Paths, live); err != nil && ctx.Err() == nil {
		a.log.Warn("image file list not published for the runtime sensors", slog.Any("error", err), slog.Uint64("failures", a.imageFiles.Failures()))
	}
}
