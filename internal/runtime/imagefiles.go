package runtime

// The image's file list for the drift check (PAL-RT-006, evidence SBOM),
// as the cluster's agent publishes it to the node sensors. The agent
// walks each running image when it scans it, or, without a vulnerability
// database, catalogues it for this list alone; the sensors cannot (no
// registry credentials, no memory for it on an edge node). What crosses
// is compact: the image's executable paths (regular files with an execute
// bit, the symlinks that lead to one, and their aliases through directory
// symlinks such as a merged /usr's /bin), each as the first 8 bytes of
// the SHA-256 of the path, sorted. A 64-bit cut of SHA-256 keeps a
// forged path from matching an image path (a second preimage costs
// 2^64), where a non-cryptographic hash could be steered.
//
// The sets live in ImageFilesShards ConfigMaps of the runtime namespace,
// named ImageFilesConfigMap(prefix, 0…) (prefix ImageFilesPrefix in
// deploy/), one binaryData key per image digest
// (ImageFilesKey): fixed names, so both the agent (get, update) and the
// sensors (get) are granted them by name and nothing else — one
// ConfigMap per image would need create and list on every ConfigMap of
// the namespace. A ConfigMap holds at most 1 MiB, so a shard keeps at
// most ImageFilesShardBytes and a set at most MaxImageFiles hashes; an
// image over that is not published and its drift falls back to the
// node's own evidence (overlay layers, change time).

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Bounds and names of the published image file sets.
const (
	ImageFilesShards     = 8
	ImageFilesPrefix     = "palisade-image-files-"
	MaxImageFiles        = 65_536 // 512 KiB of hashes
	ImageFilesShardBytes = 900 << 10
)

// ImageFilesConfigMap is the name of shard i.
func ImageFilesConfigMap(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// ImageFilesKey is the binaryData key of an image digest
// ("sha256:<hex>" → "sha256-<hex>"), and the shard that holds it; ok is
// false for anything but a sha256 digest.
func ImageFilesKey(digest string) (key string, shard int, ok bool) {
	hex, found := strings.CutPrefix(digest, "sha256:")
	if !found || len(hex) != 64 {
		return "", 0, false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", 0, false
		}
	}
	n, _ := strconv.ParseUint(hex[:2], 16, 8)
	return "sha256-" + hex, int(n) % ImageFilesShards, true
}

// ImageFiles is an image's set of executable paths, hashed.
type ImageFiles struct {
	hashes []uint64 // sorted, unique
}

func pathHash(p string) uint64 {
	sum := sha256.Sum256([]byte(p))
	return binary.BigEndian.Uint64(sum[:8])
}

// NewImageFiles hashes absolute paths ("/usr/bin/env"; a path without
// the leading slash is taken from the image root).
func NewImageFiles(paths []string) *ImageFiles {
	h := make([]uint64, 0, len(paths))
	for _, p := range paths {
		h = append(h, pathHash(path.Clean("/"+p)))
	}
	slices.Sort(h)
	return &ImageFiles{hashes: slices.Compact(h)}
}

// Len is the number of paths in the set.
func (f *ImageFiles) Len() int { return len(f.hashes) }

// Has says whether the image holds an executable at p. Only an absolute
// path can be told: ok is false for a relative one (execve("./x")).
func (f *ImageFiles) Has(p string) (has, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return false, false
	}
	_, found := slices.BinarySearch(f.hashes, pathHash(path.Clean(p)))
	return found, true
}

// Encode is the set as published: the hashes, 8 bytes each, big-endian,
// ascending.
func (f *ImageFiles) Encode() []byte {
	out := make([]byte, 0, 8*len(f.hashes))
	for _, h := range f.hashes {
		out = binary.BigEndian.AppendUint64(out, h)
	}
	return out
}

// ErrImageFiles wraps every error of DecodeImageFiles.
var ErrImageFiles = errors.New("image file set")

// DecodeImageFiles reads an encoded set, refusing anything Encode would
// not write: a length that is not a multiple of 8, more than
// MaxImageFiles hashes, hashes out of order or repeated.
func DecodeImageFiles(b []byte) (*ImageFiles, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%w: %d bytes, not a multiple of 8", ErrImageFiles, len(b))
	}
	if len(b)/8 > MaxImageFiles {
		return nil, fmt.Errorf("%w: %d hashes, over %d", ErrImageFiles, len(b)/8, MaxImageFiles)
	}
	h := make([]uint64, len(b)/8)
	for i := range h {
		h[i] = binary.BigEndian.Uint64(b[8*i:])
		if i > 0 && h[i] <= h[i-1] {
			return nil, fmt.Errorf("%w: hash %d out of order", ErrImageFiles, i)
		}
	}
	return &ImageFiles{hashes: h}, nil
}
