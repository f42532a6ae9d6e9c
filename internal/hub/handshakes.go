package hub

import (
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// handshakeLog is the http.Server's ErrorLog writer. net/http reports a
// failed TLS handshake only there ("http: TLS handshake error from ADDR:
// ERR"), so this is where the hub counts them, by reason, in
// palisade_hub_tls_handshake_errors_total: under fleet load most of the
// agents' transport errors were handshakes cut short (bench/hub/README.md),
// and without the count an operator cannot tell a starved replica from a
// network fault. The messages name the client's address and Go's error,
// never a key or certificate; every line still goes to the log at debug.
type handshakeLog struct {
	log    *slog.Logger
	errors *prometheus.CounterVec
}

const handshakePrefix = "http: TLS handshake error from "

func (hl handshakeLog) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	if rest, ok := strings.CutPrefix(msg, handshakePrefix); ok {
		hl.errors.WithLabelValues(handshakeReason(rest)).Inc()
	}
	hl.log.Log(context.Background(), slog.LevelDebug, msg)
	return len(p), nil
}

// handshakeReason classifies the error of one failed handshake (after
// "from ADDR: ") into a few stable label values, so the metric's
// cardinality is bounded whatever the clients send.
func handshakeReason(s string) string {
	switch {
	case strings.Contains(s, "client sent an HTTP request"):
		return "plaintext"
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.HasSuffix(s, "EOF"):
		return "eof"
	case strings.Contains(s, "connection reset"):
		return "reset"
	case strings.Contains(s, "broken pipe"):
		return "broken_pipe"
	case strings.Contains(s, "certificate"):
		return "certificate"
	case strings.Contains(s, "tls:"):
		return "protocol"
	}
	return "other"
}
