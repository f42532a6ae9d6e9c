package encryption

import "context"

// KeyValue is one stored key and its raw value (nil in keys-only reads).
type KeyValue struct {
	Key   string
	Value []byte
}

// KV is the read-only view of etcd the scan needs; tests substitute a map.
type KV interface {
	// Count returns how many keys start with prefix, reading no values.
	Count(ctx context.Context, prefix string) (int64, error)
	// Page returns up to limit keys in [from, end) in key order, at
	// revision rev (0 for the latest), with their values unless keysOnly.
	// It returns the revision it read at, so later pages read the same
	// snapshot, and whether more keys follow.
	Page(ctx context.Context, from, end string, limit, rev int64, keysOnly bool) (kvs []KeyValue, more bool, readRev int64, err error)
}

// prefixEnd returns the smallest key greater than every key with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}
