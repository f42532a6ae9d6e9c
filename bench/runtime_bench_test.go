package bench

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"

	"github.com/palisade-sec/palisade/internal/runtime"
)

// sensorRecord lays out a record as internal/runtime/bpf/sensor.c writes
// it: a 48-byte header, then the exec (568 bytes) or connect (88 bytes)
// payload.
func sensorRecord(typ uint16, cgroup uint64, pid uint32, path string, dst [4]byte, port uint16) []byte {
	le := binary.LittleEndian
	size := 88
	if typ == 1 {
		size = 568
	}
	b := make([]byte, size)
	le.PutUint16(b[0:], 1)
	le.PutUint16(b[2:], typ)
	le.PutUint32(b[4:], uint32(size))
	le.PutUint64(b[16:], cgroup)
	le.PutUint32(b[24:], pid)
	le.PutUint32(b[28:], pid)
	le.PutUint32(b[36:], 1000)
	p := b[48:]
	if typ == 1 {
		le.PutUint16(p[0:], uint16(copy(p[8:], path)))
		args := []byte(path + "\x00--serve\x00--port=8080\x00")
		le.PutUint16(p[2:], uint16(copy(p[8+256:], args)))
	} else {
		le.PutUint16(p[0:], 2)
		le.PutUint16(p[4:], port)
		copy(p[24:], dst[:])
	}
	return b
}

// BenchmarkRuntimePipeline decodes, attributes and evaluates a mix of
// recorded sensor records (one exec per three connects, 1% of connects to
// the metadata address) from 100 containers, on one goroutine; it reports
// events/s and the heap after the run, which must stay flat as N grows.
// "observed" adds the observation aggregator the DaemonSet runs for
// workload profiles (--runtime-observe-every).
func BenchmarkRuntimePipeline(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchPipeline(b, false) })
	b.Run("observed", func(b *testing.B) { benchPipeline(b, true) })
}

func benchPipeline(b *testing.B, observe bool) {
	root := b.TempDir()
	var ids []uint64
	for i := range 100 {
		dir := filepath.Join(root, "kubepods.slice", "kubepods-pod0f0c3a4e_5c7b_4d53_9d0b_3f2c1e7a9b10.slice", "cri-containerd-"+hexID(i)+".scope")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, st.Ino)
	}
	var recs [][]byte
	for i := range 400 {
		cg := ids[i%len(ids)]
		switch {
		case i%4 == 0:
			recs = append(recs, sensorRecord(1, cg, uint32(1000+i), "/app/server", [4]byte{}, 0))
		case i%100 == 1:
			recs = append(recs, sensorRecord(3, cg, uint32(1000+i), "", [4]byte{169, 254, 169, 254}, 80))
		default:
			recs = append(recs, sensorRecord(3, cg, uint32(1000+i), "", [4]byte{10, 0, byte(i), 7}, 443))
		}
	}
	p := &runtime.Pipeline{Resolver: runtime.NewResolver(root, nil), Detector: &runtime.Detector{ProcRoot: b.TempDir()}}
	if observe {
		p.Observer = &runtime.Observer{}
	}
	ctx := context.Background()
	findings := 0
	b.ReportAllocs()
	b.ResetTimer()
	// On a shared machine the wall-clock rate measures the neighbours too;
	// events per CPU second (this process's, GC included) does not.
	cpu0 := selfCPU()
	for i := 0; b.Loop(); i++ {
		e, err := runtime.Decode(recs[i%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
		findings += len(p.Process(ctx, &e))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/(selfCPU()-cpu0), "events/cpu-s")
	b.ReportMetric(load1(), "load1")
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	if findings == 0 {
		b.Fatal("no findings: the metadata connects were not detected")
	}
}

func hexID(i int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 64)
	for j := range b {
		b[j] = digits[(i+j)%16]
	}
	return string(b)
}
