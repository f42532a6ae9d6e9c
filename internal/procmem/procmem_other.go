//go:build !linux

package procmem

// ReleaseExecutablePages is a no-op outside Linux.
func ReleaseExecutablePages() (int64, error) { return 0, ErrUnsupported }
