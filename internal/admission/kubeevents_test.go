package admission

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestKubeEventSinkSkipsDryRun: a dry-run request's break-glass use or
// attempt is not written as a Kubernetes Event (nor to the ledger, which
// is appended after the Event): nothing was admitted, and free dry runs
// would otherwise fill the bounded ledger with uses that never happened.
// The sink writes in the order events are queued, so the first Event
// written tells whether a dry-run one went through.
func TestKubeEventSinkSkipsDryRun(t *testing.T) {
	ev := func(name, typ string, dryRun bool) *Event {
		return &Event{Schema: EventSchemaVersion, Time: time.Unix(1_800_000_000, 0).UTC(), Type: typ, Kind: "apps/v1/Deployment",
			Namespace: "prod", Name: name, User: "mallory", BreakGlassReason: "INC-1", DryRun: dryRun}
	}
	client := fake.NewClientset()
	sink := NewKubeEventSink(client, slog.New(slog.NewTextHandler(io.Discard, nil)), 1000, 1000, "webhook-0")
	for _, e := range []*Event{
		ev("dry-use", EventBreakGlass, true),
		ev("dry-refused", EventBreakGlassRefused, true),
		ev("dry-denied", EventDenied, true),
		ev("real", EventBreakGlass, false),
	} {
		sink.Emit(context.Background(), e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sink.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(time.Minute)
	for sink.Created()+sink.Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no Event written or dropped within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	list, err := client.CoreV1().Events("prod").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) == 0 || list.Items[0].InvolvedObject.Name != "real" {
		var names []string
		for _, it := range list.Items {
			names = append(names, it.InvolvedObject.Name)
		}
		t.Fatalf("first Events written are for %q (dropped %d), want the non-dry-run one, \"real\"", names, sink.Dropped())
	}
}
