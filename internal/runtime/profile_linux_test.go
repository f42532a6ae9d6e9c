package runtime

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TestSensorLearnedProfile runs a "container" (a fresh cgroup whose client
// runs in a fresh network namespace, over a veth pair to listeners the
// test runs on the address it assigned) through a learning window and then
// through a deviation, on the real kernel: what it executed and connected
// to while learning is its profile; a new binary and a new port afterwards
// are exactly the PAL-RT-009 and PAL-RT-010 findings, and repeating the
// learned behaviour is none.
func TestSensorLearnedProfile(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{ConnectWindow: time.Minute}, testSensorLearnedProfile)
}

func testSensorLearnedProfile(t *testing.T, so Options) {
	ns, _ := vethNamespace(t, "10.213.78")
	learned, other := listenAndClose(t, "10.213.78.1:0"), listenAndClose(t, "10.213.78.1:0")

	cgdir, cid := newCgroup(t)
	_, c := startSensorForm(t, so)
	obs := &Observer{}
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{}, Observer: obs}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// run executes bin in the container and, when dial is set, connects
	// from the container's namespace; it feeds the sensor's events through
	// the pipeline until it has seen the exec and (when reported: a
	// repeated destination within the kernel's connect window is not) the
	// connect.
	run := func(t *testing.T, bin string, dial netip.AddrPort, reported bool) {
		t.Helper()
		cmd := runInCgroup(t, cgdir, bin)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := uint32(cmd.Process.Pid)
		_ = cmd.Wait()
		e := c.waitFor(t, "exec of "+bin, func(e *Event) bool { return e.Kind == KindExec && e.TGID == pid })
		p.Process(context.Background(), &e)
		if !dial.IsValid() {
			return
		}
		d := runInCgroup(t, cgdir, "ip", "netns", "exec", ns, self)
		d.Env = append(os.Environ(), "PALISADE_RT_TEST_DIAL="+dial.String())
		if out, err := d.CombinedOutput(); err != nil {
			t.Fatalf("client: %v: %s", err, out)
		}
		if !reported {
			return
		}
		e = c.waitFor(t, "connect to "+dial.String(), func(e *Event) bool { return e.Kind == KindConnect && e.Dst == dial })
		p.Process(context.Background(), &e)
	}
	mine := func(all []profile.Observation) profile.Observation {
		t.Helper()
		for _, o := range all {
			if o.Workload.Kind == "Container" && o.Workload.Name == cid[:12] {
				return o
			}
		}
		t.Fatalf("no observation of container %s in %+v", cid[:12], all)
		return profile.Observation{}
	}

	// Learning.
	start := time.Now()
	run(t, "/bin/sleep", learned, true)
	prof := &profile.Profile{LearningSince: start, LearnUntil: time.Now()}
	o := mine(obs.Flush(time.Now()))
	prof.Workload = o.Workload
	prof.Learn(&o)
	wantConn := profile.Connection{Direction: profile.Egress, Peer: profile.Peer{CIDR: "10.213.78.1/32"}, Port: learned.Port(), Protocol: profile.TCP}
	if !prof.Locked(time.Now()) || fmt.Sprint(prof.Binaries) != "[/bin/sleep]" || len(prof.Connections) != 1 || prof.Connections[0].Key() != wantConn.Key() {
		t.Fatalf("learned profile %+v", prof)
	}

	for _, tc := range []struct {
		name     string
		bin      string
		dial     netip.AddrPort
		reported bool
		want     []string
	}{
		{"learned behaviour again", "/bin/sleep", learned, false, nil},
		{"deviation", "/bin/true", other, true, []string{
			profile.RuleUnexpectedBinary + " " + o.Workload.String() + " executed /bin/true",
			profile.RuleUnexpectedConnection + " " + o.Workload.String() + ": egress to 10.213.78.1/32 port " + fmt.Sprint(other.Port()) + "/TCP",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, tc.bin, tc.dial, tc.reported)
			o := mine(obs.Flush(time.Now()))
			var got []string
			for _, d := range profile.DeviationFindings("test", prof, &o) {
				got = append(got, d.F.RuleID+" "+d.F.Message)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("finding %q, want %q…", got[i], tc.want[i])
				}
			}
		})
	}
}

// listenAndClose runs a TCP listener on addr for the test, closing every
// connection it accepts, and returns its address.
func listenAndClose(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}
