//go:build unix

package main

import "syscall"

// privateUmask makes every file and directory the hub's commands create
// (the SQLite database and the -wal, -shm and temporary files SQLite makes
// beside it, which hold the CA and bundle-signing keys) private to the
// hub's user. It is set once per command, not in the store package: a
// umask is process-wide, and a library must not change it for its host.
func privateUmask() { syscall.Umask(0o077) }
