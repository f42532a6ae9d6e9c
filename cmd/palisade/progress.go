package main

import (
	"fmt"
	"time"
)

// progress shows one self-overwriting status line on stderr while long work
// runs. It stays silent when stderr is not a terminal (piped, CI logs) or
// with --quiet, so machine-read output is never mixed with it.
type progress struct {
	s       *streams
	enabled bool
	last    time.Time
	shown   bool
}

func newProgress(s *streams, g *globalOptions) *progress {
	return &progress{s: s, enabled: s.errTTY && !g.quiet}
}

// update replaces the status line, at most ten times a second.
func (p *progress) update(msg string) {
	if !p.enabled || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.s.err, "\r\033[K%s", msg)
}

// done clears the status line.
func (p *progress) done() {
	if p.enabled && p.shown {
		fmt.Fprint(p.s.err, "\r\033[K")
	}
}
