package runtime

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// requireEBPF skips when the kernel side cannot be tested here, unless
// PALISADE_REQUIRE_EBPF is set (CI), where absence is a failure.
func requireEBPF(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		why = "no kernel BTF"
	} else if _, err := CgroupV2Root(); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("PALISADE_REQUIRE_EBPF") != "" {
		t.Fatalf("PALISADE_REQUIRE_EBPF is set but the sensor cannot be tested: %s", why)
	}
	t.Skipf("sensor test needs root, BTF and cgroup v2: %s", why)
}

// TestMain lets the test binary act as the "container's" network client,
// server (PALISADE_RT_TEST_SERVE: listen on the address, print the port,
// accept one connection) and datagram sender (PALISADE_RT_TEST_UDP).
func TestMain(m *testing.M) {
	if addr := os.Getenv("PALISADE_RT_TEST_SERVE"); addr != "" {
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		c, err := ln.Accept()
		if err != nil {
			os.Exit(3)
		}
		c.Close()
		os.Exit(0)
	}
	if addr := os.Getenv("PALISADE_RT_TEST_UDP"); addr != "" {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err == nil {
			var dst *net.UDPAddr
			if dst, err = net.ResolveUDPAddr("udp4", addr); err == nil {
				_, err = pc.WriteTo([]byte("x"), dst)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if addr := os.Getenv("PALISADE_RT_TEST_UDPECHO"); addr != "" {
		os.Exit(udpAskOnce(addr, os.Getenv("PALISADE_RT_TEST_UDPCONNECT") != ""))
	}
	if addr := os.Getenv("PALISADE_RT_TEST_UDPSERVE"); addr != "" {
		pc, err := net.ListenPacket("udp4", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println(pc.LocalAddr().(*net.UDPAddr).Port)
		_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := pc.ReadFrom(make([]byte, 64)); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	if addr := os.Getenv("PALISADE_RT_TEST_DIAL"); addr != "" {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		_, _ = io.ReadAll(c)
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// udpAskOnce sends one datagram to addr (sendto on an unconnected socket,
// or write on a connected one) and waits for the answer: the exit code.
func udpAskOnce(addr string, connected bool) int {
	dst, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return 3
	}
	var c *net.UDPConn
	if connected {
		c, err = net.DialUDP("udp4", nil, dst)
		if err == nil {
			_, err = c.Write([]byte("x"))
		}
	} else {
		c, err = net.ListenUDP("udp4", nil)
		if err == nil {
			_, err = c.WriteTo([]byte("x"), dst)
		}
	}
	if err == nil {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 64))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

type collected struct {
	ch chan Event
}

func startSensor(t *testing.T, o Options) (*Sensor, *collected) {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collected{ch: make(chan Event, 1<<16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx, func(e Event) {
			select {
			case c.ch <- e:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return s, c
}

// waitFor returns the first event that match accepts, failing after 10s.
func (c *collected) waitFor(t *testing.T, what string, match func(*Event) bool) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-c.ch:
			if match(&e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", what)
		}
	}
}

// newCgroup makes a fresh cgroup v2 directory standing in for a container's,
// named like containerd's systemd-driver scopes so attribution is exercised.
func newCgroup(t *testing.T) (dir string, id string) {
	t.Helper()
	id = fmt.Sprintf("%064x", time.Now().UnixNano())
	root, err := CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(root, "palisade-test-"+fmt.Sprint(os.Getpid()), "cri-containerd-"+id+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(dir)
		os.Remove(filepath.Dir(dir))
	})
	return dir, id
}

func runInCgroup(t *testing.T, cgdir string, name string, args ...string) *exec.Cmd {
	t.Helper()
	fd, err := syscall.Open(cgdir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	return cmd
}

func TestSensorExecExitAndDrift(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{}, testSensorExecExitAndDrift)
}

func testSensorExecExitAndDrift(t *testing.T, o Options) {
	cgdir, cid := newCgroup(t)
	// The container's init runs first; a binary copied in afterwards is drift.
	initCmd := runInCgroup(t, cgdir, "/bin/sleep", "60")
	if err := initCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { initCmd.Process.Kill(); initCmd.Wait() })
	time.Sleep(50 * time.Millisecond) // > the 10 ms resolution of process start times
	bin := filepath.Join(t.TempDir(), "sleep")
	data, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, c := startSensorForm(t, o)
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{}}

	for _, tc := range []struct {
		name      string
		bin       string
		args      []string
		wantRules []string
	}{
		{"image binary", "/bin/sleep", []string{"0.3"}, nil},
		{"binary copied in after start", bin, []string{"0.3"}, []string{RuleDrift}},
		{"shell", "/bin/sh", []string{"-c", "sleep 0.3; exit 7"}, []string{RuleShell}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := runInCgroup(t, cgdir, tc.bin, tc.args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := uint32(cmd.Process.Pid)
			e := c.waitFor(t, "exec", func(e *Event) bool { return e.Kind == KindExec && e.TGID == pid })
			fs := p.Process(context.Background(), &e)
			_ = cmd.Wait()
			if e.Path != tc.bin || len(e.Args) == 0 || e.Args[0] != tc.bin || strings.Join(e.Args[1:], " ") != strings.Join(tc.args, " ") {
				t.Errorf("exec event path %q args %q, want %q %q", e.Path, e.Args, tc.bin, tc.args)
			}
			if e.PPID != uint32(os.Getpid()) || e.UID != 0 {
				t.Errorf("ppid %d uid %d, want %d 0", e.PPID, e.UID, os.Getpid())
			}
			a := e.Attribution
			if a.ContainerID != cid || a.Runtime != "containerd" || a.Host {
				t.Errorf("attribution %+v, want containerd container %s", a, cid)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantRules, ",") {
				t.Errorf("findings %v, want %v (%+v)", got, tc.wantRules, fs)
			}
			x := c.waitFor(t, "exit", func(e *Event) bool { return e.Kind == KindExit && e.TGID == pid })
			if x.CgroupID != e.CgroupID {
				t.Errorf("exit cgroup %d, exec cgroup %d", x.CgroupID, e.CgroupID)
			}
			if tc.name == "shell" && x.ExitCode>>8 != 7 {
				t.Errorf("exit code %#x, want status 7", x.ExitCode)
			}
		})
	}
}

// TestSensorConnectAccept runs a client in a fresh network namespace and
// cgroup, connecting over a veth pair to a listener the test runs on the
// address it assigned on the host side.
// sensorForms are the forms of each hook the sensor chooses between: the
// preferred ones (the TCP state program as tp_btf, the connect, send and
// open programs as fentry) and the fallbacks Open attaches where those
// cannot load. Every test of the kernel side runs with each.
var sensorForms = []struct {
	name string
	o    Options
	// The TCP state and connect programs' names in bpf/sensor.c.
	sockProg, connectProg string
}{
	{"tp_btf+fentry", Options{}, "on_sock_state_btf", "on_connect_fentry"},
	{"tp_btf+syscall_tracepoints", Options{SyscallTracepoints: true}, "on_sock_state_btf", "on_connect"},
	{"raw_tracepoint+syscall_tracepoints", Options{RawSockState: true, SyscallTracepoints: true}, "on_sock_state", "on_connect"},
}

// withForms runs test once with each of sensorForms, with o's other
// options.
func withForms(t *testing.T, o Options, test func(t *testing.T, o Options)) {
	t.Helper()
	for _, f := range sensorForms {
		t.Run(f.name, func(t *testing.T) {
			o.RawSockState, o.SyscallTracepoints = f.o.RawSockState, f.o.SyscallTracepoints
			test(t, o)
		})
	}
}

// startSensorForm starts a sensor and fails unless it attached the forms
// o asks for. Any kernel the sensor loads on at all (5.8+ for the ring
// buffer, with BTF) loads tp_btf programs (5.5+), so an unforced fallback
// of the TCP state program is a bug here. fentry is refused by some
// kernels that load everything else (this project's CI machine: a
// Firecracker 6.18 kernel refuses every fentry and fexit program, even an
// empty one, with EPERM): there the test skips, saying why, unless
// PALISADE_REQUIRE_FENTRY is set.
func startSensorForm(t *testing.T, o Options) (*Sensor, *collected) {
	t.Helper()
	s, c := startSensor(t, o)
	wantSock, wantSys := SockStateBTF, SyscallFentry
	if o.RawSockState {
		wantSock = SockStateRaw
	}
	if o.SyscallTracepoints {
		wantSys = SyscallTracepoint
	}
	if hook, fallback := s.SockStateHook(); hook != wantSock || fallback != nil {
		t.Fatalf("TCP state program attached as %s (fallback: %v), want %s", hook, fallback, wantSock)
	}
	hook, fallback := s.SyscallHook()
	if wantSys == SyscallFentry && hook == SyscallTracepoint && fallback != nil && os.Getenv("PALISADE_REQUIRE_FENTRY") == "" {
		t.Skipf("this kernel refuses the fentry form (PALISADE_REQUIRE_FENTRY is not set): %v", fallback)
	}
	if hook != wantSys || fallback != nil {
		t.Fatalf("connect, send and open programs attached as %s (fallback: %v), want %s", hook, fallback, wantSys)
	}
	return s, c
}

func TestSensorConnectAccept(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{ConnectWindow: time.Minute}, testSensorConnectAccept)
}

func testSensorConnectAccept(t *testing.T, o Options) {
	ns, nsIno := vethNamespace(t, "10.213.77")
	want := listenAndClose(t, "10.213.77.1:0")

	cgdir, cid := newCgroup(t)
	_, c := startSensorForm(t, o)
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{}}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second connect falls in the kernel's dedup window
		cmd := runInCgroup(t, cgdir, "ip", "netns", "exec", ns, self)
		cmd.Env = append(os.Environ(), "PALISADE_RT_TEST_DIAL="+want.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("client %d: %v: %s", i, err, out)
		}
	}
	// The three records of the first connection (the connect, the client's
	// established connection, the listener's accept) arrive in any order;
	// the second connection, within the window, must add none: the kernel
	// drops its records before reserving ring-buffer space for them.
	ours := func(e *Event) bool {
		switch e.Kind {
		case KindConnect, KindEstablished:
			return e.Dst == want
		case KindAccept:
			return e.Src == want
		}
		return false
	}
	got := map[Kind][]Event{}
	timeout := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case e := <-c.ch:
			if ours(&e) {
				got[e.Kind] = append(got[e.Kind], e)
			}
		case <-timeout:
			t.Fatalf("the first connection's records did not all arrive: %+v", got)
		}
	}
	quiet := time.After(500 * time.Millisecond)
collect:
	for {
		select {
		case e := <-c.ch:
			if ours(&e) {
				got[e.Kind] = append(got[e.Kind], e)
			}
		case <-quiet:
			break collect
		}
	}
	for _, k := range []Kind{KindConnect, KindEstablished, KindAccept} {
		if n := len(got[k]); n != 1 {
			t.Errorf("%d %s records for two connections within the window, want 1: %+v", n, k, got[k])
		}
	}
	e := got[KindConnect][0]
	p.Process(context.Background(), &e)
	if e.NetNS != nsIno {
		t.Errorf("connect netns %d, want the test namespace's %d", e.NetNS, nsIno)
	}
	if e.Attribution.ContainerID != cid {
		t.Errorf("connect attributed to %+v, want container %s", e.Attribution, cid)
	}
	if a := got[KindAccept][0]; a.Dst.Addr() != netip.MustParseAddr("10.213.77.2") {
		t.Errorf("accept peer %s, want 10.213.77.2", a.Dst)
	}
}

// vethNamespace makes a network namespace joined to the host by a veth
// pair: the host side is <prefix>.1/30, the namespace's <prefix>.2/30.
// It returns the namespace's name (for ip netns exec) and inode.
func vethNamespace(t *testing.T, prefix string) (string, uint32) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("PALISADE_REQUIRE_EBPF") != "" {
			t.Fatal("ip (iproute2) is missing")
		}
		t.Skip("ip (iproute2) is missing")
	}
	id := fmt.Sprint(os.Getpid()%10000) + "x" + prefix[strings.LastIndexByte(prefix, '.')+1:]
	ns := "paltest" + id
	hostIf, nsIf := "pth"+id, "ptn"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		_ = exec.Command("ip", "link", "del", hostIf).Run()
	})
	run("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	run("link", "set", nsIf, "netns", ns)
	run("addr", "add", prefix+".1/30", "dev", hostIf)
	run("link", "set", hostIf, "up")
	run("-n", ns, "addr", "add", prefix+".2/30", "dev", nsIf)
	run("-n", ns, "link", "set", nsIf, "up")
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	return ns, uint32(st.Ino)
}

func TestSensorDegradedOnMissingBTF(t *testing.T) {
	requireEBPF(t)
	_, err := Open(context.Background(), Options{BTFPath: filepath.Join(t.TempDir(), "no-such-vmlinux")})
	if err == nil || !strings.Contains(err.Error(), "load kernel BTF") {
		t.Fatalf("Open with a missing BTF path: %v, want a load kernel BTF error", err)
	}
}

func newTestResolver(t *testing.T) *Resolver {
	t.Helper()
	root, err := CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(root, nil)
	r.MinRefresh = 0
	return r
}

// TestSensorHostExec checks a process outside any container is labelled host.
func TestSensorHostExec(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{}, testSensorHostExec)
}

func testSensorHostExec(t *testing.T, o Options) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(own), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && ParseCgroupPath(p).ContainerID != "" {
			t.Skipf("the test itself runs in container cgroup %s", p)
		}
	}
	_, c := startSensorForm(t, o)
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{}}
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	e := c.waitFor(t, "exec", func(e *Event) bool { return e.Kind == KindExec && e.TGID == pid })
	if fs := p.Process(context.Background(), &e); len(fs) != 0 || !e.Attribution.Host {
		t.Fatalf("host shell: attribution %+v findings %+v, want host and none", e.Attribution, fs)
	}
}

// TestSensorOpenSendAccept: in a fresh cgroup standing in for a container,
// opening /etc/shadow is an open event and PAL-RT-008; a datagram sent to
// a loopback listener the test runs is a udp-send event with its
// destination; a TCP listener there has its accepted connection attributed
// to the container through the socket's cgroup, although the accept runs
// in softirq context.
func TestSensorOpenSendAccept(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{}, testSensorOpenSendAccept)
}

func testSensorOpenSendAccept(t *testing.T, so Options) {
	cgdir, cid := newCgroup(t)
	_, c := startSensorForm(t, so)
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{}}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if out, err := runInCgroup(t, cgdir, "/bin/cat", "/etc/shadow").CombinedOutput(); err != nil {
		t.Fatalf("cat /etc/shadow: %v %s", err, out)
	}
	o := c.waitFor(t, "open", func(e *Event) bool { return e.Kind == KindOpen && e.Path == "/etc/shadow" })
	if fs := p.Process(ctx, &o); o.Attribution.ContainerID != cid || len(fs) != 1 || fs[0].RuleID != RuleCredentialFile {
		t.Errorf("open of /etc/shadow: attribution %+v findings %+v", o.Attribution, fs)
	}

	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	cmd := runInCgroup(t, cgdir, self)
	cmd.Env = append(os.Environ(), "PALISADE_RT_TEST_UDP="+udp.LocalAddr().String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("udp sender: %v %s", err, out)
	}
	want := netip.MustParseAddrPort(udp.LocalAddr().String())
	u := c.waitFor(t, "udp-send", func(e *Event) bool { return e.Kind == KindUDPSend && e.Dst == want })
	if p.Process(ctx, &u); u.Attribution.ContainerID != cid {
		t.Errorf("udp-send attributed to %+v", u.Attribution)
	}

	srv := runInCgroup(t, cgdir, self)
	srv.Env = append(os.Environ(), "PALISADE_RT_TEST_SERVE=127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	var port uint16
	if _, err := fmt.Fscan(stdout, &port); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	listener := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	a := c.waitFor(t, "accept", func(e *Event) bool { return e.Kind == KindAccept && e.Src == listener })
	if p.Process(ctx, &a); a.Attribution.ContainerID != cid || a.Attribution.Runtime != "containerd" {
		t.Errorf("accept attributed to %+v, want the listener's container %s", a.Attribution, cid)
	}
}

// recordingIntent denies every connection and keeps what it was asked.
type recordingIntent struct{ flows []Flow }

func (r *recordingIntent) Judge(f Flow) IntentVerdict {
	r.flows = append(r.flows, f)
	return IntentVerdict{Decided: true, Denied: true, Src: "shop/web[Deployment]", Dst: f.Remote.String() + "[External]", Why: "test policy denies everything"}
}

// TestSensorEstablished: a client in a fresh cgroup and network namespace
// connects over a veth pair to a listener the test runs: the kernel
// reports the answered connection (established, attributed to the
// client's container through its socket), and the detector judges it
// (PAL-RT-011 with a policy intent that denies it). A connect to a port
// nobody listens on is refused: a connect event, never an established
// one, and nothing judged.
func TestSensorEstablished(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{ConnectWindow: time.Minute}, testSensorEstablished)
}

func testSensorEstablished(t *testing.T, o Options) {
	ns, _ := vethNamespace(t, "10.213.78")
	ln, err := net.Listen("tcp4", "10.213.78.1:0")
	if err != nil {
		t.Fatal(err)
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
	closed, err := net.Listen("tcp4", "10.213.78.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close() // its port now refuses connections

	cgdir, cid := newCgroup(t)
	_, c := startSensorForm(t, o)
	intent := &recordingIntent{}
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{Intent: intent}}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dial := func(addr string) error {
		cmd := runInCgroup(t, cgdir, "ip", "netns", "exec", ns, self)
		cmd.Env = append(os.Environ(), "PALISADE_RT_TEST_DIAL="+addr)
		return cmd.Run()
	}
	if err := dial(closedAddr); err == nil {
		t.Fatalf("dial %s succeeded, want refused", closedAddr)
	}
	if err := dial(ln.Addr().String()); err != nil {
		t.Fatalf("dial %s: %v", ln.Addr(), err)
	}
	want := netip.MustParseAddrPort(ln.Addr().String())
	refused := netip.MustParseAddrPort(closedAddr)
	pod := &Pod{Namespace: "shop", Name: "web-0"}
	var established *Event
	deadline := time.After(10 * time.Second)
	for established == nil {
		select {
		case e := <-c.ch:
			if e.Kind == KindEstablished && e.Dst == refused {
				t.Fatalf("a refused connection reported established: %+v", e)
			}
			if e.Kind == KindEstablished && e.Dst == want {
				established = &e
			}
		case <-deadline:
			t.Fatal("no established event")
		}
	}
	e := *established
	fs := p.Process(context.Background(), &e)
	if e.Attribution.ContainerID != cid || e.Src.Addr() != netip.MustParseAddr("10.213.78.2") || e.TGID != 0 {
		t.Errorf("established %+v, want the client's container %s from 10.213.78.2 and no process", e, cid)
	}
	if len(fs) != 0 {
		t.Errorf("findings without a pod: %+v", fs)
	}
	// The agent names the pod; with it, the connection is judged.
	e.Attribution.Pod = pod
	fs = p.Detector.Evaluate(&e)
	if len(fs) != 1 || fs[0].RuleID != RuleIntent || !strings.Contains(fs[0].Message, "connected to "+want.String()) {
		t.Fatalf("findings %+v, want PAL-RT-011 for %s", fs, want)
	}
	if len(intent.flows) != 1 || !intent.flows[0].Outbound || intent.flows[0].Remote != want || intent.flows[0].Port != want.Port() {
		t.Errorf("judged flows %+v", intent.flows)
	}
	// Drain: no established event for the refused destination may follow.
	drain := time.After(300 * time.Millisecond)
	for {
		select {
		case e := <-c.ch:
			if e.Kind == KindEstablished && e.Dst == refused {
				t.Fatalf("a refused connection reported established: %+v", e)
			}
		case <-drain:
			return
		}
	}
}

// TestSensorIPv6StateChanges: a TCP connection over ::1 from the test to a
// listener it runs, with each form of the TCP state program: the
// established and accept records carry the IPv6 addresses and ports read
// from the socket (the IPv6 branch of both programs).
func TestSensorIPv6StateChanges(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{}, func(t *testing.T, o Options) {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			if os.Getenv("PALISADE_REQUIRE_EBPF") != "" {
				t.Fatalf("no IPv6 loopback: %v", err)
			}
			t.Skipf("no IPv6 loopback: %v", err)
		}
		defer ln.Close()
		_, c := startSensorForm(t, o)
		accepted := make(chan error, 1)
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				conn.Close()
			}
			accepted <- err
		}()
		conn, err := net.Dial("tcp6", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		client := netip.MustParseAddrPort(conn.LocalAddr().String())
		conn.Close()
		if err := <-accepted; err != nil {
			t.Fatal(err)
		}
		server := netip.MustParseAddrPort(ln.Addr().String())
		e := c.waitFor(t, "established", func(e *Event) bool { return e.Kind == KindEstablished && e.Dst == server })
		if e.Src != client {
			t.Errorf("established from %s, want %s", e.Src, client)
		}
		a := c.waitFor(t, "accept", func(e *Event) bool { return e.Kind == KindAccept && e.Src == server })
		if a.Dst.Addr() != client.Addr() {
			t.Errorf("accept peer %s, want %s", a.Dst, client.Addr())
		}
	})
}

// TestSensorProgramStats: with the kernel's program statistics enabled, a
// loopback connection shows in the run counts of the connect program and
// of the TCP state program in the form attached.
func TestSensorProgramStats(t *testing.T) {
	requireEBPF(t)
	stats, err := ebpf.EnableStats(0) // BPF_STATS_RUN_TIME
	if err != nil {
		t.Fatalf("enable program statistics: %v", err)
	}
	defer stats.Close()
	for _, f := range sensorForms {
		t.Run(f.name, func(t *testing.T) {
			s, _ := startSensorForm(t, f.o)
			loopbackConnection(t)
			st, err := s.ProgramStats()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]ProgramStat{}
			for _, p := range st {
				got[p.Program] = p
			}
			// sk_data_ready runs on TCP sockets too (the listener is
			// woken by the connection): the UDP receive program runs and
			// returns.
			for _, name := range []string{f.connectProg, f.sockProg, "on_data_ready_btf"} {
				if p := got[name]; p.RunCount == 0 || p.RunTime <= 0 {
					t.Errorf("%s: %+v after a connection, want runs and run time (all: %+v)", name, p, st)
				}
			}
			if len(st) != 7 {
				t.Errorf("%d programs, want 7: %+v", len(st), st)
			}
		})
	}
}

// TestSensorFallbacks: where a preferred form cannot load, Open attaches
// its fallback, says why, and the sensor still reports the events. The
// tp_btf form of the TCP state program is pointed at a tracepoint the
// kernel's BTF does not have (as an old kernel's lacks the real one); the
// fentry form of the connect, send and open programs at a kernel function
// that does not exist (as a kernel without BPF trampolines refuses them
// all). A fallback is not a degradation, and one hook's fallback leaves
// the other hook's form alone.
func TestSensorFallbacks(t *testing.T) {
	requireEBPF(t)
	for _, tc := range []struct {
		name          string
		o             Options
		hook          func(*Sensor) (string, error)
		state         func(State) (hook, fallback string)
		want, refused string
		other         func(*Sensor) (string, error)
		otherWant     string
		see           func(t *testing.T, c *collected)
	}{
		{
			"tcp state", Options{sockStateBTFTarget: "palisade_no_such_tracepoint"},
			(*Sensor).SockStateHook, func(st State) (string, string) { return st.SockStateHook, st.SockStateFallback },
			SockStateRaw, SockStateBTF, nil, "",
			func(t *testing.T, c *collected) {
				server := loopbackConnection(t)
				c.waitFor(t, "established", func(e *Event) bool { return e.Kind == KindEstablished && e.Dst == server })
			},
		},
		{
			"connect, send, open", Options{fentryConnectTarget: "palisade_no_such_function"},
			(*Sensor).SyscallHook, func(st State) (string, string) { return st.SyscallHook, st.SyscallFallback },
			SyscallTracepoint, SyscallFentry, (*Sensor).SockStateHook, SockStateBTF,
			func(t *testing.T, c *collected) {
				server := loopbackConnection(t)
				c.waitFor(t, "connect", func(e *Event) bool { return e.Kind == KindConnect && e.Dst == server })
				if out, err := exec.Command("/bin/cat", "/etc/shadow").CombinedOutput(); err != nil {
					t.Fatalf("cat /etc/shadow: %v %s", err, out)
				}
				c.waitFor(t, "open", func(e *Event) bool { return e.Kind == KindOpen && e.Path == "/etc/shadow" })
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := startSensor(t, tc.o)
			hook, fallback := tc.hook(s)
			if hook != tc.want || fallback == nil || !strings.Contains(fallback.Error(), tc.refused) {
				t.Fatalf("attached %s (fallback: %v), want %s with the reason %s was refused", hook, fallback, tc.want, tc.refused)
			}
			st := s.State()
			if h, fb := tc.state(st); st.Mode != "ok" || h != tc.want || fb != fallback.Error() {
				t.Errorf("state %+v: want ok, with %s and the reason", st, tc.want)
			}
			if tc.other != nil {
				if hook, fallback := tc.other(s); hook != tc.otherWant || fallback != nil {
					t.Errorf("the other hook attached as %s (fallback: %v), want %s", hook, fallback, tc.otherWant)
				}
			}
			tc.see(t, c)
		})
	}
}

// TestSensorWithoutUDPReceive: a kernel without the sk_data_ready
// tracepoint (before 6.3; here the program is pointed at one the kernel's
// BTF does not have) loads everything else; the sensor says why it sees no
// UDP receive, is not degraded, and still reports sends and connections.
// A Detector told so counts a pod's UDP sends as not judged.
func TestSensorWithoutUDPReceive(t *testing.T) {
	requireEBPF(t)
	s, c := startSensor(t, Options{udpReceiveTarget: "palisade_no_such_tracepoint"})
	ok, missing := s.UDPReceive()
	if ok || missing == nil || !strings.Contains(missing.Error(), UDPReceiveBTF) {
		t.Fatalf("UDP receive attached %v (missing: %v), want it missing with the reason", ok, missing)
	}
	st := s.State()
	if st.Mode != "ok" || st.UDPReceiveHook != "" || st.UDPReceiveMissing != missing.Error() {
		t.Errorf("state %+v: want ok, no UDP receive hook and the reason", st)
	}
	server := loopbackConnection(t)
	c.waitFor(t, "established", func(e *Event) bool { return e.Kind == KindEstablished && e.Dst == server })
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if _, err := udp.WriteTo([]byte("x"), udp.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddrPort(udp.LocalAddr().String())
	c.waitFor(t, "udp-send", func(e *Event) bool { return e.Kind == KindUDPSend && e.Dst == dst })
	time.Sleep(100 * time.Millisecond)
	for {
		select {
		case e := <-c.ch:
			if e.Kind == KindUDPRecv {
				t.Fatalf("a udp-recv without the program: %+v", e)
			}
			continue
		default:
		}
		break
	}
}

// TestSensorRingBytes: the ring buffer has the size asked for, and the
// default without one.
func TestSensorRingBytes(t *testing.T) {
	requireEBPF(t)
	for _, tc := range []struct{ ask, want int }{{0, DefaultRingBytes}, {8 << 20, 8 << 20}} {
		s, _ := startSensor(t, Options{RingBytes: tc.ask})
		if got := s.objs.Events.MaxEntries(); got != uint32(tc.want) {
			t.Errorf("RingBytes %d: ring of %d bytes, want %d", tc.ask, got, tc.want)
		}
	}
}

// loopbackConnection makes one TCP connection from the test to a listener
// it runs on 127.0.0.1 and returns the listener's address.
func loopbackConnection(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestSensorUDPReceive: clients in a fresh cgroup and network namespace
// send a datagram over a veth pair to an echo server the test runs on the
// host side's address, from an unconnected socket (sendto) and from a
// connected one (write), and a server in the namespace receives a datagram
// the test sends it. The kernel reports each datagram queued on the
// container's sockets (udp-recv: the socket's end, the source, whether the
// socket is connected, the container's cgroup, no process), and the
// detector judges them against a policy intent that denies everything:
// a reply to the unconnected socket's send (PAL-RT-011, "received a
// reply"), a reply on the connected socket (the same, known from the
// socket alone), and the datagram no send of the container asked for
// (PAL-RT-011, "answers nothing").
func TestSensorUDPReceive(t *testing.T) {
	requireEBPF(t)
	ns, _ := vethNamespace(t, "10.213.79")
	echo, err := net.ListenPacket("udp4", "10.213.79.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo(buf[:n], from)
		}
	}()
	server := netip.MustParseAddrPort(echo.LocalAddr().String())
	cgdir, cid := newCgroup(t)
	s, c := startSensor(t, Options{ConnectWindow: time.Minute})
	if ok, missing := s.UDPReceive(); !ok {
		t.Fatalf("the UDP receive program did not attach: %v", missing)
	}
	if st := s.State(); st.UDPReceiveHook != UDPReceiveBTF || st.UDPReceiveMissing != "" {
		t.Errorf("state %+v, want the UDP receive hook %s", st, UDPReceiveBTF)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ask := func(connected bool) {
		t.Helper()
		cmd := runInCgroup(t, cgdir, "ip", "netns", "exec", ns, self)
		cmd.Env = append(os.Environ(), "PALISADE_RT_TEST_UDPECHO="+server.String())
		if connected {
			cmd.Env = append(cmd.Env, "PALISADE_RT_TEST_UDPCONNECT=1")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("udp client (connected %v): %v: %s", connected, err, out)
		}
	}
	ask(false)
	ask(true)
	// A server in the namespace; the test sends it one datagram from the
	// host side's address.
	cmd := runInCgroup(t, cgdir, "ip", "netns", "exec", ns, self)
	cmd.Env = append(os.Environ(), "PALISADE_RT_TEST_UDPSERVE=10.213.79.2:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var port uint16
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatalf("udp server: %v", err)
	}
	sender, err := net.ListenPacket("udp4", "10.213.79.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	inbound := netip.AddrPortFrom(netip.MustParseAddr("10.213.79.2"), port)
	if _, err := sender.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(inbound)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("udp server: %v", err)
	}
	senderAddr := netip.MustParseAddrPort(sender.LocalAddr().String())

	pod := &Pod{Namespace: "shop", Name: "web-0"}
	intent := &recordingIntent{}
	p := &Pipeline{Resolver: newTestResolver(t), Detector: &Detector{Intent: intent, UDPReceive: true}}
	ours := func(e *Event) bool {
		switch e.Kind {
		case KindUDPSend:
			return e.Dst == server
		case KindUDPRecv:
			return e.Dst == server || e.Src == inbound
		}
		return false
	}
	var got []Event
	deadline := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case e := <-c.ch:
			if ours(&e) {
				got = append(got, e)
			}
		case <-deadline:
			t.Fatalf("records so far %+v, want a udp-send and three udp-recv", got)
		}
	}
	var findings []string
	for i := range got {
		e := &got[i]
		p.Process(context.Background(), e)
		if e.Attribution.ContainerID != cid {
			t.Errorf("%s attributed to %+v, want container %s", e.Kind, e.Attribution, cid)
		}
		e.Attribution.Pod = pod
		for _, f := range p.Detector.Evaluate(e) {
			findings = append(findings, f.RuleID+" "+f.Message)
		}
	}
	if got[0].Kind != KindUDPSend {
		t.Errorf("first record %+v, want the udp-send", got[0])
	}
	var unconnected, connected, served []Event
	for _, e := range got[1:] {
		switch {
		case e.Kind != KindUDPRecv:
			t.Errorf("record %+v, want udp-recv", e)
		case e.Src == inbound:
			served = append(served, e)
		case e.Connected:
			connected = append(connected, e)
		default:
			unconnected = append(unconnected, e)
		}
		if e.TGID != 0 || e.Src.Addr() != netip.MustParseAddr("10.213.79.2") {
			t.Errorf("udp-recv %+v, want no process and the namespace's address", e)
		}
	}
	if len(unconnected) != 1 || len(connected) != 1 || len(served) != 1 {
		t.Fatalf("udp-recv records: unconnected %+v, connected %+v, served %+v; want one each", unconnected, connected, served)
	}
	if served[0].Dst != senderAddr || served[0].Connected {
		t.Errorf("served %+v, want from %s, unconnected", served[0], senderAddr)
	}
	if unconnected[0].Src == connected[0].Src {
		t.Errorf("both clients' sockets on %s", connected[0].Src)
	}
	want := []string{
		"received a reply from " + server.String(),
		"received a reply from " + server.String(),
		fmt.Sprintf("received a UDP datagram on port %d from %s", port, senderAddr),
	}
	if len(findings) != len(want) {
		t.Fatalf("findings %q, want %d", findings, len(want))
	}
	for i, f := range findings {
		if !strings.HasPrefix(f, RuleIntent+" ") || !strings.Contains(f, want[i]) {
			t.Errorf("finding %d %q, want PAL-RT-011 with %q", i, f, want[i])
		}
	}
	// Each judgement asked first as a new flow to the pod's port; the
	// replies then as the pod's datagrams to the server.
	var flows []string
	for _, f := range intent.flows {
		flows = append(flows, fmt.Sprintf("out=%v udp=%v %s port %d", f.Outbound, f.UDP, f.Remote, f.Port))
	}
	wantFlows := []string{
		fmt.Sprintf("out=false udp=true %s port %d", server, unconnected[0].Src.Port()),
		fmt.Sprintf("out=true udp=true %s port %d", server, server.Port()),
		fmt.Sprintf("out=false udp=true %s port %d", server, connected[0].Src.Port()),
		fmt.Sprintf("out=true udp=true %s port %d", server, server.Port()),
		fmt.Sprintf("out=false udp=true %s port %d", senderAddr, port),
	}
	if strings.Join(flows, "\n") != strings.Join(wantFlows, "\n") {
		t.Errorf("judged flows:\n%s\nwant:\n%s", strings.Join(flows, "\n"), strings.Join(wantFlows, "\n"))
	}
}
