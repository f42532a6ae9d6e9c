package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestUnavailable: errors of a database out of reach or out of space are
// told apart from every other failure (which stays a 500), however
// wrapped.
func TestUnavailable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("cluster c: report 3 (findings): commit: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"not found", store.ErrNotFound, false},
		{"quota", &store.QuotaError{Cluster: "c", What: "findings", Have: 2, Limit: 1}, false},
		{"canceled", context.Canceled, false},
		{"pg disk full", &pgconn.PgError{Code: "53100"}, true},
		{"pg out of memory", &pgconn.PgError{Code: "53200"}, true},
		{"pg too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"pg admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"pg cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"pg unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"pg syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"bad conn", driver.ErrBadConn, true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"no space", &net.OpError{Op: "write", Err: syscall.ENOSPC}, true},
		{"pgx conn closed", errors.New("conn closed"), true},
	} {
		for _, err := range []error{tc.err, wrap(tc.err)} {
			if tc.err == nil && err != nil {
				continue
			}
			if got := store.Unavailable(err); got != tc.want {
				t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, err, got, tc.want)
			}
		}
	}
}
