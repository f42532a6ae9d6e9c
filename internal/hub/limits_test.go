package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/inflate"
)

// TestHostileReportBoundedMemory sends, as an enrolled agent, small gzip
// bodies that inflate to millions of empty findings (under the byte
// limit): the hub must answer 413 without decoding them. Before items
// were counted, a 4 KB request of this shape made the hub allocate about
// a gigabyte.
func TestHostileReportBoundedMemory(t *testing.T) {
	const empties = 3_000_000 // 9 MB of "{}," inflated, far under MaxReportBytes
	envelope := func() []byte {
		var b bytes.Buffer
		b.WriteString(`{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":[`)
		b.WriteString(strings.Repeat(`{},`, empties))
		b.WriteString(`{}]}]}}`)
		return b.Bytes()
	}
	th := startHub(t)
	cert, _, _ := th.enrol(t, "hostile")
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"report", fleetapi.PathReports, envelope()},
		{"batch", fleetapi.PathReportBatch, append(append([]byte(`{"envelopes":[`), envelope()...), `]}`...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
			_, _ = zw.Write(tc.body)
			_ = zw.Close()
			req, _ := http.NewRequest(http.MethodPost, th.url+tc.path, bytes.NewReader(gz.Bytes()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			c := th.client(cert)
			defer c.CloseIdleConnections()

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			runtime.ReadMemStats(&after)

			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%d-byte gzip body of %d empty findings: status %d, want 413", gz.Len(), empties, resp.StatusCode)
			}
			// Generous: the hub reads one buffer past the limit; the old
			// hub allocated hundreds of megabytes here.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("%d-byte gzip body: the hub allocated %d MiB, want under 64 MiB", gz.Len(), grew>>20)
			}
		})
	}
}

// TestIngestTurnPerCluster: a cluster gets one ingest at a time; a second
// is 429 with Retry-After, and another cluster is not held up.
func TestIngestTurnPerCluster(t *testing.T) {
	h := &Hub{}
	done, ok := h.ingestTurn(httptest.NewRecorder(), "c-1")
	if !ok {
		t.Fatal("first turn refused")
	}
	rec := httptest.NewRecorder()
	if _, ok := h.ingestTurn(rec, "c-1"); ok || rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("second turn of c-1: ok %v, status %d, Retry-After %q; want 429 with Retry-After", ok, rec.Code, rec.Header().Get("Retry-After"))
	}
	done2, ok := h.ingestTurn(httptest.NewRecorder(), "c-2")
	if !ok {
		t.Fatal("another cluster was held up")
	}
	done2()
	done()
	done3, ok := h.ingestTurn(httptest.NewRecorder(), "c-1")
	if !ok {
		t.Fatal("turn not given back")
	}
	done3()
}

// TestReportSeqFarAheadRefused: a report numbered far beyond what the
// agent can have sent is answered 409 (single and batch) and does not
// turn the agent's next genuine report into a duplicate.
func TestReportSeqFarAheadRefused(t *testing.T) {
	th := startHub(t)
	cert, _, _ := th.enrol(t, "forged-seq")
	c := th.client(cert)
	defer c.CloseIdleConnections()
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := c.Post(th.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	env := func(seq string) string {
		return `{"seq":` + seq + `,"kind":"findings","findings":{"full":true,"objects":[]}}`
	}
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"first genuine report", fleetapi.PathReports, env("1"), http.StatusOK},
		{"forged report", fleetapi.PathReports, env("9223372036854775807"), http.StatusConflict},
		{"forged batch", fleetapi.PathReportBatch, `{"envelopes":[` + env("9223372036854775807") + `]}`, http.StatusConflict},
		{"next genuine report", fleetapi.PathReports, env("2"), http.StatusOK},
	} {
		code, body := post(tc.path, tc.body)
		if code != tc.want {
			t.Fatalf("%s: status %d (%s), want %d", tc.name, code, body, tc.want)
		}
		if tc.want == http.StatusOK && strings.Contains(body, `"duplicate":true`) {
			t.Fatalf("%s: taken for a duplicate: %s", tc.name, body)
		}
	}
}

// TestAdmissionEventQuota: one report of many admission events leaves the
// cluster at its quota, the newest kept; the drop is counted on the
// cluster (API view) and in the hub's metrics (issue #16: a 2 KB request
// inserted 699,035 rows, nothing ever deleted them).
func TestAdmissionEventQuota(t *testing.T) {
	const quota, sent = 5, 40
	th := startHubWith(t, Config{AdmissionEventsPerCluster: quota})
	cert, er, _ := th.enrol(t, "noisy")
	c := th.client(cert)
	defer c.CloseIdleConnections()
	now := time.Now().UTC()
	for _, path := range []string{fleetapi.PathReports, fleetapi.PathReportBatch} {
		evs := make([]fleetapi.AdmissionEvent, sent)
		for i := range evs {
			evs[i] = fleetapi.AdmissionEvent{Time: now.Add(time.Duration(i) * time.Second), UID: path + strconv.Itoa(i), Operation: "CREATE", Decision: "denied"}
		}
		seq := uint64(1)
		var body any = fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindAdmission, Admission: evs}
		if path == fleetapi.PathReportBatch {
			seq = 2
			body = fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{{Seq: seq, Kind: fleetapi.KindAdmission, Admission: evs}}}
		}
		resp, out := call(t, c, "POST", th.url+path, body, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		stored, err := th.st.ListAdmissionEvents(context.Background(), store.AdmissionQuery{ClusterID: er.ClusterID, Limit: 1000})
		if err != nil || len(stored) != quota {
			t.Fatalf("%s: %d events stored (%v), want the quota %d", path, len(stored), err, quota)
		}
		for _, e := range stored {
			if e.Time.Before(now.Add((sent - quota) * time.Second)) {
				t.Errorf("%s: kept an old event of %v, want only the newest %d", path, e.Time, quota)
			}
		}
	}
	cl, err := th.st.GetCluster(context.Background(), er.ClusterID)
	if err != nil {
		t.Fatal(err)
	}
	if v := th.view(cl); v.AdmissionEventsDropped != 2*sent-quota {
		t.Errorf("cluster view: %d admission events dropped, want %d", v.AdmissionEventsDropped, 2*sent-quota)
	}
	mfs, err := th.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "palisade_hub_admission_events_pruned_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "quota" {
					got += m.GetCounter().GetValue()
				}
			}
		}
	}
	if got != 2*sent-quota {
		t.Errorf("metric: %v dropped over quota, want %d", got, 2*sent-quota)
	}
}

// TestAgentBodyInflatedOnce: a gzip body is inflated into one buffer of
// the size its trailer states, not one grown from a guess (whose copies
// and fresh pages were a tenth of the hub's CPU under 500-pod
// snapshots); a body of several members (the agent's batches) costs at
// most twice its size; a trailer that lies costs no more than an honest
// body of its compressed size; the body is read whole.
func TestAgentBodyInflatedOnce(t *testing.T) {
	var jsb bytes.Buffer
	for i := 0; jsb.Len() < 4<<20; i++ {
		fmt.Fprintf(&jsb, `{"ruleID":"pss/rule-%d","message":"container app of pod team/web-%d: %d"},`, i%40, i/14, i*7919%10007)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	_, _ = zw.Write(jsb.Bytes())
	_ = zw.Close()
	lying := bytes.Clone(gz.Bytes())
	copy(lying[len(lying)-4:], []byte{0xff, 0xff, 0xff, 0xff}) // ISIZE 4 GiB: the CRC check then fails
	// As the agent sends a batch: members for the head, the report and
	// the tail, the last one's trailer stating 2 bytes.
	member := gzipBestSpeed
	js := jsb.Bytes()
	members := slices.Concat(member(js[:1]), member(js[1:len(js)-2]), member(js[len(js)-2:]))
	for _, tc := range []struct {
		name     string
		body     []byte
		ok       bool
		maxAlloc int
	}{
		// The body buffer gets room for the decoder's window past the
		// stated size (inflate.OutBufferLen), to inflate in place.
		{"honest trailer", gz.Bytes(), true, len(js) + inflate.OutBufferLen + 3*gz.Len() + 256<<10},
		{"members, the last one small", members, true, 2*len(js) + 3*len(members) + 256<<10},
		{"lying trailer", lying, false, int(fleetapi.MaxReportBytes) + inflate.OutBufferLen + 3*gz.Len()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, fleetapi.PathReports, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			rec := httptest.NewRecorder()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			body, ok := readAgentBody(rec, req, fleetapi.MaxReportBytes)
			runtime.ReadMemStats(&after)
			if ok != tc.ok || ok && !bytes.Equal(body, js) {
				t.Fatalf("read %v (%d bytes, want %d), answer %d %s", ok, len(body), len(js), rec.Code, rec.Body)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(tc.maxAlloc) {
				t.Errorf("%d bytes of gzip inflating to %d: allocated %d bytes, want at most %d", len(tc.body), len(js), grew, tc.maxAlloc)
			}
		})
	}
}
