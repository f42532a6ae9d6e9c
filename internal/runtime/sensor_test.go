package runtime

import (
	"context"
	"strings"
	"testing"
)

// TestRingBytes: Open refuses ring buffer sizes the kernel would refuse
// or the sensor bounds, before loading anything (no kernel needed).
func TestRingBytes(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{
		{MinRingBytes, true},
		{DefaultRingBytes, true},
		{8 << 20, true},
		{MaxRingBytes, true},
		{MinRingBytes / 2, false},
		{MaxRingBytes * 2, false},
		{3 << 20, false},
		{-1, false},
		{4097, false},
	} {
		err := checkRingBytes(tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("checkRingBytes(%d) = %v, want ok %v", tc.n, err, tc.ok)
		}
		if tc.ok {
			continue
		}
		if _, err := Open(context.Background(), Options{RingBytes: tc.n}); err == nil || !strings.Contains(err.Error(), "ring buffer size") {
			t.Errorf("Open with a ring of %d bytes: %v, want a ring buffer size error", tc.n, err)
		}
	}
}
