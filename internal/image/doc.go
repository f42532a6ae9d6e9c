// Package image opens container images wherever they are kept (a
// registry, an OCI layout, a docker save archive, a plain root directory)
// and gives scanners a read-only view of the image's final file system,
// built in one streaming pass over the layers without unpacking anything to
// disk.
//
// The pieces, in the order a scan uses them:
//
//   - Open resolves a reference ("registry.example.com/app:1.2",
//     "oci:DIR", "docker-archive:FILE", "rootfs:DIR") to a Source, choosing
//     one platform from a multi-arch index.
//   - Source.FS (or Walk for any v1.Image) streams the layers bottom to top
//     and applies them as a container runtime does: whiteouts, opaque
//     directories, symlinks resolved inside the image root, hardlinks. A
//     Selector decides, per file, whether to keep its content in memory and
//     which Streams see its bytes once during the pass; every final path is
//     listed whatever the selector says.
//   - FS is an io/fs.FS over the result (fs.ReadFile, fs.WalkDir, fs.Stat
//     work), with LayerOf for the layer that wrote each path, and the
//     results of the streams.
//   - SecretSelector and SecretFindings find credentials baked into the
//     image (internal/secret) and report them as findings, values masked.
//
// Limits bound everything an image controls: file and total sizes,
// decompressed bytes and the compression ratio, entry counts and path
// lengths. A layer that breaks a limit or is malformed makes the walk fail
// with an error naming the layer; nothing an image contains can make it
// panic or exhaust memory. docs/images.md describes the behaviour for
// users.
package image
