package workload

import (
	"sync"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestNetworkPolicyPodSelector: the converted selector selects what
// spec.podSelector selects, an invalid one is an error (and selects
// nothing), and concurrent callers (rules run on every core) all get it.
func TestNetworkPolicyPodSelector(t *testing.T) {
	for _, tc := range []struct {
		name     string
		selector metav1.LabelSelector
		labels   labels.Set
		want     bool
		wantErr  bool
	}{
		{"empty selects every pod", metav1.LabelSelector{}, labels.Set{"app": "web"}, true, false},
		{"matchLabels match", metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, labels.Set{"app": "web", "tier": "x"}, true, false},
		{"matchLabels differ", metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, labels.Set{"app": "web"}, false, false},
		{"expression", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}}}, labels.Set{"app": "web"}, true, false},
		{"invalid operator", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}, labels.Set{"app": "web"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np := &NetworkPolicy{NetworkPolicy: &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: tc.selector}}}
			sels := make([]labels.Selector, 8)
			errs := make([]error, 8)
			var wg sync.WaitGroup
			for i := range sels {
				wg.Go(func() { sels[i], errs[i] = np.PodSelector() })
			}
			wg.Wait()
			for i := range sels {
				if (errs[i] != nil) != tc.wantErr {
					t.Fatalf("call %d: error %v, want error: %v", i, errs[i], tc.wantErr)
				}
				if tc.wantErr {
					continue
				}
				if sels[i].String() != sels[0].String() {
					t.Errorf("call %d: selector %q, call 0: %q", i, sels[i], sels[0])
				}
				if got := sels[i].Matches(tc.labels); got != tc.want {
					t.Errorf("call %d: selects %v: %v, want %v", i, tc.labels, got, tc.want)
				}
			}
		})
	}
}
