package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRuntimeOverhead measures what the loaded sensor costs a busy
// workload on the real kernel: TCP connects to a loopback listener (two
// workers) and fork/execs of /bin/true (one worker), flat out for
// PALISADE_RUNTIME_BENCH_SECONDS (default 10) without the sensor, then
// with it (every connect reported: no kernel-side window) and the
// user-space pipeline consuming. It reports connects/s and execs/s for
// both, the events/s the sensor delivered and the records it dropped.
// Needs root and BTF; figures in bench/README.md, never asserted.
//
//	go test ./bench -run x -bench RuntimeOverhead -benchtime 1x
func BenchmarkRuntimeOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := 10 * time.Second
	if v := os.Getenv("PALISADE_RUNTIME_BENCH_SECONDS"); v != "" {
		d, err := time.ParseDuration(v + "s")
		if err != nil {
			b.Fatal(err)
		}
		secs = d
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	load := func() (connects, execs float64) {
		var nc, ne atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), secs)
		defer cancel()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if c, err := net.Dial("tcp4", addr); err == nil {
						c.Close()
						nc.Add(1)
					}
				}
			})
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				if exec.Command("/bin/true").Run() == nil {
					ne.Add(1)
				}
			}
		})
		wg.Wait()
		return float64(nc.Load()) / secs.Seconds(), float64(ne.Load()) / secs.Seconds()
	}
	for range b.N {
		c0, e0 := load()
		stop := loadedSensor(b, 0)
		c1, e1 := load()
		st := stop()
		b.ReportMetric(c0, "connects/s-without")
		b.ReportMetric(c1, "connects/s-with")
		b.ReportMetric(e0, "execs/s-without")
		b.ReportMetric(e1, "execs/s-with")
		b.ReportMetric(float64(st.Decoded)/secs.Seconds(), "events/s")
		b.ReportMetric(float64(st.Dropped), "dropped")
		b.ReportMetric(float64(st.Malformed), "malformed")
	}
}
