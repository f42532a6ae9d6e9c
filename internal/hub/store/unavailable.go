package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Unavailable tells whether err is the database being out of reach or out
// of space rather than anything wrong with the request: the same request
// can succeed later unchanged, so the hub answers 503 with Retry-After and
// the agent keeps the report queued instead of treating it as a fault.
//
// SQLite: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY,
// SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN and SQLITE_PROTOCOL (primary
// codes; extended codes included). PostgreSQL: SQLSTATE class 08
// (connection exception), 53 (insufficient resources: 53100 disk full,
// 53200 out of memory, 53300 too many connections), 57P01–57P05 (shutdown,
// crash, cannot connect now, idle timeouts) and 58030 (I/O error); and
// any connection that failed or dropped (pgconn.ConnectError, network
// errors, EOF on the connection, driver.ErrBadConn, ENOSPC).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6, 7, 8, 10, 13, 14, 15: // BUSY LOCKED NOMEM READONLY IOERR FULL CANTOPEN PROTOCOL
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "58030":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgx reports a connection closed under a query only in words.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "unexpected EOF")
}
