package agent

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

func admissionEnv(msg string) *fleetapi.Envelope {
	return &fleetapi.Envelope{Kind: fleetapi.KindAdmission, Admission: []fleetapi.AdmissionEvent{{Operation: "CREATE", Decision: "denied", Message: msg}}}
}

func TestOutboxDurableAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := OpenOutbox(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		seq, err := o.Append(admissionEnv("m"))
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
	if err := o.Ack(2); err != nil {
		t.Fatal(err)
	}
	o.Close()

	o, err = OpenOutbox(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st := o.Stats()
	if st.Pending != 3 || st.LastSeq != 5 {
		t.Fatalf("after restart: %+v", st)
	}
	got, _ := o.Oldest(10)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("oldest: %+v", got)
	}
	// Sequence numbers continue after a restart: never reused.
	if seq, _ := o.Append(admissionEnv("m")); seq != 6 {
		t.Fatalf("seq after restart %d, want 6", seq)
	}
}

func TestOutboxDropsOldestAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	big := strings.Repeat("x", 400)
	o, err := OpenOutbox(path, 2000) // room for about four reports
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := o.Append(admissionEnv(big)); err != nil {
			t.Fatal(err)
		}
	}
	st := o.Stats()
	if st.Bytes > 2000 || st.Dropped == 0 || st.Pending+int(st.Dropped) != 10 {
		t.Fatalf("stats %+v", st)
	}
	got, _ := o.Oldest(100)
	if got[len(got)-1].Seq != 10 || got[0].Seq != st.Dropped+1 {
		t.Fatalf("kept %d..%d, dropped %d", got[0].Seq, got[len(got)-1].Seq, st.Dropped)
	}
	o.Close()
	o, _ = OpenOutbox(path, 2000)
	defer o.Close()
	if o.Stats().Dropped != st.Dropped {
		t.Fatalf("drop counter not persisted: %d", o.Stats().Dropped)
	}
	if _, err := o.Append(admissionEnv(strings.Repeat("y", 3000))); err == nil {
		t.Fatal("report larger than the outbox accepted")
	}
}
