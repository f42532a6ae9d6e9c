package runtime

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// record builds a kernel record as bpf/sensor.c lays it out.
type record struct {
	typ, version uint16
	size         uint32 // 0: the right size for typ
	cgroup       uint64
	pid, ppid    uint32
	uid, netns   uint32
	path         string
	args         []string
	exitCode     int32
	family       uint16
	sport, dport uint16
	saddr, daddr netip.Addr
}

func (r record) bytes() []byte {
	n := map[uint16]int{recExec: execRecSize, recExit: exitRecSize, recConnect: connRecSize, recAccept: connRecSize, recOpen: openRecSize, recUDPSend: connRecSize, recEstablished: connRecSize}[r.typ]
	if n == 0 {
		n = hdrSize
	}
	b := make([]byte, n)
	le := binary.LittleEndian
	v := r.version
	if v == 0 {
		v = recVersion
	}
	size := r.size
	if size == 0 {
		size = uint32(n)
	}
	le.PutUint16(b[0:], v)
	le.PutUint16(b[2:], r.typ)
	le.PutUint32(b[4:], size)
	le.PutUint64(b[8:], 12345)
	le.PutUint64(b[16:], r.cgroup)
	le.PutUint32(b[24:], r.pid)
	le.PutUint32(b[28:], r.pid)
	le.PutUint32(b[32:], r.ppid)
	le.PutUint32(b[36:], r.uid)
	le.PutUint32(b[40:], r.netns)
	p := b[hdrSize:]
	switch r.typ {
	case recExec:
		le.PutUint16(p[0:], uint16(copy(p[8:8+pathMax-1], r.path)))
		args := []byte(strings.Join(r.args, "\x00") + "\x00")
		if len(r.args) == 0 {
			args = nil
		}
		le.PutUint16(p[2:], uint16(copy(p[8+pathMax:8+pathMax+argsMax-1], args)))
	case recExit:
		le.PutUint32(p[0:], uint32(r.exitCode))
	case recOpen:
		le.PutUint16(p[0:], uint16(copy(p[8:8+pathMax-1], r.path)))
		le.PutUint32(p[4:], uint32(r.exitCode)) // the open flags
	case recConnect, recAccept, recUDPSend, recEstablished:
		le.PutUint16(p[0:], r.family)
		le.PutUint16(p[2:], r.sport)
		le.PutUint16(p[4:], r.dport)
		if r.saddr.IsValid() {
			s := r.saddr.AsSlice()
			copy(p[8:24], s)
		}
		if r.daddr.IsValid() {
			copy(p[24:40], r.daddr.AsSlice())
		}
	}
	return b
}

func TestDecode(t *testing.T) {
	long := make([]string, 40)
	for i := range long {
		long[i] = "a"
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		check   func(t *testing.T, e Event)
		wantErr string
	}{
		{name: "exec", in: record{typ: recExec, cgroup: 7, pid: 42, ppid: 1, uid: 1000, path: "/usr/bin/curl", args: []string{"curl", "-s", "http://x"}}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindExec || e.Path != "/usr/bin/curl" || strings.Join(e.Args, " ") != "curl -s http://x" || e.CgroupID != 7 || e.TGID != 42 || e.PPID != 1 || e.UID != 1000 || e.ArgsTruncated {
				t.Errorf("%+v", e)
			}
		}},
		{name: "exec argv capped", in: record{typ: recExec, path: "/bin/x", args: long}.bytes(), check: func(t *testing.T, e Event) {
			if len(e.Args) != MaxArgs || !e.ArgsTruncated {
				t.Errorf("%d args, truncated %v", len(e.Args), e.ArgsTruncated)
			}
		}},
		{name: "exit", in: record{typ: recExit, pid: 9, exitCode: 256}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindExit || e.ExitCode != 256 {
				t.Errorf("%+v", e)
			}
		}},
		{name: "connect v4", in: record{typ: recConnect, family: 2, dport: 443, daddr: netip.MustParseAddr("10.0.0.9")}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindConnect || e.Dst.String() != "10.0.0.9:443" {
				t.Errorf("%+v", e)
			}
		}},
		{name: "accept v6 mapped", in: record{typ: recAccept, family: 10, sport: 8080, dport: 50000, saddr: netip.MustParseAddr("::ffff:10.0.0.1"), daddr: netip.MustParseAddr("fd00::2")}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindAccept || e.Src.String() != "10.0.0.1:8080" || e.Dst.String() != "[fd00::2]:50000" {
				t.Errorf("%+v", e)
			}
		}},
		{name: "established", in: record{typ: recEstablished, cgroup: 7, family: 2, sport: 40112, dport: 5432, saddr: netip.MustParseAddr("10.244.1.5"), daddr: netip.MustParseAddr("10.244.2.7")}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindEstablished || e.Src.String() != "10.244.1.5:40112" || e.Dst.String() != "10.244.2.7:5432" || e.CgroupID != 7 {
				t.Errorf("%+v", e)
			}
		}},
		{name: "open", in: record{typ: recOpen, path: "/etc/shadow", exitCode: 2}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindOpen || e.Path != "/etc/shadow" || e.OpenFlags != 2 {
				t.Errorf("%+v", e)
			}
		}},
		{name: "udp send", in: record{typ: recUDPSend, family: 2, dport: 53, daddr: netip.MustParseAddr("169.254.169.254")}.bytes(), check: func(t *testing.T, e Event) {
			if e.Kind != KindUDPSend || e.Dst.String() != "169.254.169.254:53" {
				t.Errorf("%+v", e)
			}
		}},
		{name: "open path length lies", in: func() []byte {
			b := record{typ: recOpen, path: "/x"}.bytes()
			b[hdrSize] = 0xff
			b[hdrSize+1] = 0xff
			return b
		}(), wantErr: "open path length 65535"},
		{name: "empty", in: nil, wantErr: "shorter than"},
		{name: "truncated exec", in: record{typ: recExec}.bytes()[:100], wantErr: "want 568"},
		{name: "future version", in: record{typ: recExit, version: 2}.bytes(), wantErr: "version 2"},
		{name: "unknown type", in: record{typ: 99}.bytes(), wantErr: "unknown record type 99"},
		{name: "size lies", in: record{typ: recExit, size: 4096}.bytes(), wantErr: "header says 4096"},
		{name: "unknown family", in: record{typ: recConnect, family: 1}.bytes(), wantErr: "address family 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode(tc.in)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Decode: %v, want malformed %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, e)
		})
	}
}

func TestDecodeRejectsOversizedLengths(t *testing.T) {
	b := record{typ: recExec, path: "/bin/sh"}.bytes()
	binary.LittleEndian.PutUint16(b[hdrSize:], 9999)
	if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Fatalf("Decode: %v, want a length error", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(record{typ: recExec, path: "/bin/sh", args: []string{"sh", "-c", "id"}}.bytes())
	f.Add(record{typ: recExit, exitCode: 1}.bytes())
	f.Add(record{typ: recConnect, family: 2, dport: 80, daddr: netip.MustParseAddr("169.254.169.254")}.bytes())
	f.Add(record{typ: recAccept, family: 10, daddr: netip.MustParseAddr("::1")}.bytes())
	f.Add(record{typ: recOpen, path: "/var/run/docker.sock"}.bytes())
	f.Add(record{typ: recUDPSend, family: 10, dport: 53, daddr: netip.MustParseAddr("fd00:ec2::254")}.bytes())
	f.Add(record{typ: recEstablished, family: 2, sport: 40000, dport: 443, daddr: netip.MustParseAddr("203.0.113.9")}.bytes())
	f.Add([]byte{1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		if len(e.Path) > 3*pathMax || len(e.Args) > MaxArgs {
			t.Fatalf("unbounded decode: path %d bytes, %d args", len(e.Path), len(e.Args))
		}
	})
}
