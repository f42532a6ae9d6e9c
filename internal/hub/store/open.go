package store

import (
	"context"
	"fmt"
	"strings"
)

// Open opens the store named by a URL: sqlite:///abs/path.db,
// sqlite://relative.db, or postgres://… / postgresql://….
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			return nil, fmt.Errorf("database %q: no file path", url)
		}
		return OpenSQLite(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url)
	default:
		return nil, fmt.Errorf("database %q: want sqlite:///path or postgres://…", RedactURL(url))
	}
}

// RedactURL hides a password in a database URL, for logs and errors.
func RedactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	userinfo := rest[:at]
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return u
}
