package store_test

import (
	"context"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestGenericPlans checks that the committers' and the certificate
// lookups' sessions run their statements with generic plans (planned
// once per session, not for every report; postgres.go,
// openGenericPlans), that the shared pool (the dashboard's reads, whose
// plans may depend on the values) keeps PostgreSQL's default, and that a
// plan_cache_mode the operator sets in the URL is kept.
func TestGenericPlans(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, query                 string
		shared, commit, certificate string
	}{
		{"default", "", "auto", "force_generic_plan", "force_generic_plan"},
		{"set in the URL", "&plan_cache_mode=force_custom_plan", "force_custom_plan", "force_custom_plan", "force_custom_plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(ctx, pgtest.Shared(t).NewDatabase(t)+tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			shared, commit, certs, err := store.PlanCacheModes(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if shared != tc.shared || commit != tc.commit || certs != tc.certificate {
				t.Errorf("plan_cache_mode: shared %q, committers %q, certificates %q; want %q, %q, %q",
					shared, commit, certs, tc.shared, tc.commit, tc.certificate)
			}
		})
	}
}
