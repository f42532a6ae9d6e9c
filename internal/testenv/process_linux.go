//go:build linux

package testenv

import (
	"errors"
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group, so signals sent to
// the test's group (Ctrl-C) reach it only through us and we can kill anything
// it spawned, and asks the kernel to SIGKILL it when the test binary dies,
// however it dies (panic, go test -timeout, kill -9). The kernel ties
// Pdeathsig to the OS thread that forked, not the process; the Go runtime only
// retires a thread when a goroutine exits while locked to it (LockOSThread),
// which this package never does around exec.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup signals the child's whole process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// pidAlive reports whether a process with this pid exists; used to sweep
// instance directories whose test binary was killed before cleanup.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
