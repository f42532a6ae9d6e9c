// Package procmem trims what the kernel counts in this process's resident
// set without changing what the process can do.
package procmem

import "errors"

// ErrUnsupported is returned where the trim is not implemented (outside
// Linux).
var ErrUnsupported = errors.New("procmem: not supported on this system")
