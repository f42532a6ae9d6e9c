// Command digests prints the digest of each platform image of an index
// reference (one per line), for hack/ci/release-check.sh. The registry is
// reached over plain HTTP: it is the local test registry.
package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: digests REPO@sha256:...")
		os.Exit(2)
	}
	ref, err := name.ParseReference(os.Args[1], name.Insecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, d := range m.Manifests {
		fmt.Println(d.Digest)
	}
}
