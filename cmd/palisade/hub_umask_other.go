//go:build !unix

package main

// privateUmask does nothing where there is no umask; the store still
// creates its files 0600.
func privateUmask() {}
