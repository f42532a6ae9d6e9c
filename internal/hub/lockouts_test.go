package hub

import (
	"context"
	"net/http"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestLockoutsSharedAcrossReplicas: two hub replicas on one PostgreSQL.
// Guessing a password on one locks the attempt source on both (a second
// replica behind the load balancer is no second chance), and an admin's
// unlock through either lifts it on both: the right password then signs
// in on the replica that counted the failures.
func TestLockoutsSharedAcrossReplicas(t *testing.T) {
	hubs := startReplicas(t, 2)
	a, b := hubs[0], hubs[1]
	ctx := context.Background()
	if err := a.CreateUser(ctx, "ops", "correct horse battery", store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	login := func(h *testHub, password string) int {
		t.Helper()
		resp, _ := call(t, h.client(nil), "POST", h.url+"/api/v1/login", LoginRequest{Username: "ops", Password: password}, nil)
		return resp.StatusCode
	}
	free := DefaultAuthLimits().Account.Free
	for i := range free {
		if code := login(a, "wrong guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d on a: %d, want 401", i, code)
		}
	}
	for name, h := range map[string]*testHub{"a": a, "b": b} {
		if code := login(h, "correct horse battery"); code != http.StatusTooManyRequests {
			t.Errorf("after %d failures on a, the right password on %s: %d, want 429", free, name, code)
		}
	}
	// The admin lifts it through b (the API calls Unlock).
	if err := b.Unlock(ctx, "127.0.0.1", "ops"); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*testHub{"a": a, "b": b} {
		if code := login(h, "correct horse battery"); code != http.StatusOK {
			t.Errorf("after the unlock on b, the right password on %s: %d, want 200", name, code)
		}
	}
}
