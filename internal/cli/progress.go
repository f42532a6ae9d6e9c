package cli

import (
	"fmt"
	"time"
)

// Progress shows one self-overwriting status line on stderr while long work
// runs. It stays silent when stderr is not a terminal (piped, CI logs) or
// with --quiet, so machine-read output is never mixed with it.
type Progress struct {
	s       *Streams
	enabled bool
	last    time.Time
	shown   bool
}

// NewProgress returns the status line of s's stderr, silent unless it is
// a terminal and g is not quiet.
func NewProgress(s *Streams, g *Global) *Progress {
	return &Progress{s: s, enabled: s.ErrTTY && !g.Quiet}
}

// Update replaces the status line, at most ten times a second.
func (p *Progress) Update(msg string) {
	if !p.enabled || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.s.Err, "\r\033[K%s", msg)
}

// Done clears the status line.
func (p *Progress) Done() {
	if p.enabled && p.shown {
		fmt.Fprint(p.s.Err, "\r\033[K")
	}
}
