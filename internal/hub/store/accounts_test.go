package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestAccountsOnBothBackends: account changes end sessions in the same
// transaction, the last enabled admin is kept even against concurrent
// demotions, tokens are revoked by ID or name, and secrets are wiped.
func TestAccountsOnBothBackends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for _, u := range []store.User{{ID: "u-a", Name: "ann", Role: store.RoleAdmin}, {ID: "u-b", Name: "ben", Role: store.RoleAdmin}, {ID: "u-v", Name: "val", Role: store.RoleViewer}} {
			u.PasswordHash, u.CreatedAt = "x", t0
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSession(ctx, store.Session{IDHash: []byte("s-" + u.ID), UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, 0); err != nil {
				t.Fatal(err)
			}
		}
		disabled := true
		if _, n, err := s.UpdateUser(ctx, "val", store.UserChange{Disabled: &disabled}, t0); err != nil || n != 1 {
			t.Fatalf("disable val: %d %v", n, err)
		}
		if _, _, err := s.GetSession(ctx, []byte("s-u-v"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disabled user's session: %v", err)
		}
		if u, err := s.GetUserByName(ctx, "val"); err != nil || !u.DisabledAt.Equal(t0) {
			t.Fatalf("val: %+v %v", u, err)
		}
		// Two admins demoted at once: one must stay.
		viewer := store.RoleViewer
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"ann", "ben"} {
			wg.Add(1)
			go func() { defer wg.Done(); _, _, errs[i] = s.UpdateUser(ctx, name, store.UserChange{Role: &viewer}, t0) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("concurrent demotions of the last two admins: %v, %v (want exactly one refused)", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("the refused demotion failed otherwise (a deadlock?): %v", err)
			}
		}
		users, err := s.ListUsers(ctx, t0)
		if err != nil || len(users) != 3 {
			t.Fatal(users, err)
		}
		admins := 0
		for _, u := range users {
			if u.PasswordHash != "" {
				t.Errorf("listing carries %s's password hash", u.Name)
			}
			if u.Role == store.RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("%d admins left", admins)
		}
		if _, err := s.DeleteUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete unknown: %v", err)
		}
		if n, err := s.DeleteUser(ctx, "val"); err != nil || n != 0 {
			t.Errorf("delete val: %d %v", n, err)
		}

		for _, tk := range []store.APIToken{{ID: "t1", Name: "ci"}, {ID: "t2", Name: "ci"}, {ID: "t3", Name: "other"}} {
			tk.Role, tk.Hash, tk.CreatedAt = store.RoleViewer, []byte("h"), t0
			if err := s.CreateAPIToken(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.TouchAPIToken(ctx, "t3", t0); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			ref  string
			want int
			err  error
		}{{"t3", 1, nil}, {"ci", 2, nil}, {"ci", 0, nil}, {"none", 0, store.ErrNotFound}} {
			n, err := s.RevokeAPITokens(ctx, tt.ref, t0)
			if n != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("revoke %s: %d %v, want %d %v", tt.ref, n, err, tt.want, tt.err)
			}
		}
		ts, err := s.ListAPITokens(ctx)
		if err != nil || len(ts) != 3 || ts[2].ID != "t3" || !ts[2].LastUsedAt.Equal(t0) || ts[0].RevokedAt.IsZero() {
			t.Fatalf("tokens: %+v %v", ts, err)
		}

		if _, err := s.Secret(ctx, "k", func() ([]byte, error) { return []byte("private"), nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.WipeSecret(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupSecret(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("wiped secret: %v", err)
		}
		if err := s.AddAuditEvent(ctx, store.AuditEvent{Time: t0, Actor: "a", Action: "x", Target: "y"}); err != nil {
			t.Fatal(err)
		}
		if es, err := s.ListAuditEvents(ctx, 0); err != nil || len(es) != 1 || es[0].Action != "x" {
			t.Fatalf("audit events: %+v %v", es, err)
		}
	})
}
