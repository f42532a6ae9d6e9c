package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one control-plane child with its output captured to a file, so
// a startup failure can quote the log tail and a finished test leaves no
// goroutines copying pipes.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Stdin = nil
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process group to terminate and escalates to SIGKILL after
// grace (at once when grace is 0); it always returns once the process has
// exited.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	if grace > 0 {
		_ = signalGroup(p.cmd, syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = signalGroup(p.cmd, syscall.SIGKILL)
		<-p.done
	}
	// Children of the process (none expected) share its group; make sure
	// nothing of it outlives the instance.
	_ = signalGroup(p.cmd, syscall.SIGKILL)
}

// logTail returns the last lines of the process's log for error messages.
func (p *process) logTail(lines int) string {
	return fileTail(p.logPath, lines)
}

func fileTail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer func() { _ = f.Close() }()
	// Bounded read: apiserver logs can grow large in long tests.
	const maxTail = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxTail {
		if _, err := f.Seek(-maxTail, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot seek %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	data = bytes.TrimRight(data, "\n")
	all := strings.Split(string(data), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
