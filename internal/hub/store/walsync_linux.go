package store

import (
	"fmt"
	"os"
	"syscall"
)

// dataSync flushes f's data and the metadata needed to read it back (its
// size), as PostgreSQL syncs its WAL.
func dataSync(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = syscall.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("fdatasync: %w", serr)
	}
	return nil
}

// fileIno is f's inode number.
func fileIno(f *os.File) (uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode", f.Name())
	}
	return st.Ino, nil
}
