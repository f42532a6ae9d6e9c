//go:build !linux

package store

import "os"

// dataSync flushes f (fsync: no fdatasync here).
func dataSync(f *os.File) error { return f.Sync() }

// fileIno has no inode here: every sync also syncs the directory.
func fileIno(*os.File) (uint64, error) { return 0, nil }
