//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// The control plane is only supported on Linux; these keep the package
// compiling elsewhere (tests skip there because the binaries are missing).

func setProcAttrs(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	if sig == syscall.SIGKILL {
		return cmd.Process.Kill()
	}
	return cmd.Process.Signal(sig)
}

// pidAlive is conservative off Linux: never sweep.
func pidAlive(int) bool { return true }
