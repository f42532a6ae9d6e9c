package fleetapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// Object digests. The hub stores, per reported object with findings, a
// digest of its findings (internal/hub/store, objectdigest.go); an agent
// that sends the same digest with an object (ObjectFindings.Digest) lets
// the hub skip hashing the findings of the objects it already has. The
// value is stored by the hub, so it must never change.

// DataSum is the data hash of one finding: the first 16 bytes of the
// SHA-256 of its JSON as sent (the hub stores it in hex).
type DataSum [16]byte

// DataSumOf is the data hash of a finding's JSON.
func DataSumOf(data []byte) DataSum {
	sum := sha256.Sum256(data)
	return DataSum(sum[:16])
}

// ObjectDigestOf is the digest of an object whose findings have the data
// hashes sums (reordered here): the first 16 bytes of the SHA-256 of the
// hashes sorted, each in lower-case hexadecimal, in hex. The hub dedups
// a finding sent twice before computing it, so an agent's digest of
// findings with a duplicate differs from the hub's (the object is then
// diffed as without a digest).
func ObjectDigestOf(sums []DataSum) string {
	// Data hashes sorted as bytes are sorted as their hexadecimal
	// strings (the digits and a–f are in ASCII order).
	slices.SortFunc(sums, func(a, b DataSum) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	var x [32]byte
	for i := range sums {
		hex.Encode(x[:], sums[i][:])
		h.Write(x[:])
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// IsObjectDigest reports whether d has the form of ObjectDigestOf's
// values (32 lower-case hexadecimal digits); the hub ignores any other.
func IsObjectDigest(d string) bool {
	if len(d) != 32 {
		return false
	}
	for i := range len(d) {
		if c := d[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SetDigest sets o.Digest from o's findings encoded as the agent encodes
// them in a report (encoding/json; TestFindingEncodingStable); an object
// without findings gets none (the hub stores no digest for it).
func SetDigest(o *ObjectFindings) error {
	o.Digest = ""
	if len(o.Findings) == 0 {
		return nil
	}
	sums := make([]DataSum, len(o.Findings))
	for i := range o.Findings {
		b, err := json.Marshal(&o.Findings[i])
		if err != nil {
			return fmt.Errorf("object %s/%s/%s: finding %d: %w", o.Object.Kind, o.Object.Namespace, o.Object.Name, i, err)
		}
		sums[i] = DataSumOf(b)
	}
	o.Digest = ObjectDigestOf(sums)
	return nil
}
