package bench

// The runtime benchmarks' load generator: the test binary itself,
// re-executed with PALISADE_RUNTIME_LOADGEN set to a loadSpec (JSON), so
// that its CPU time is measured apart from the sensor's (the kernel side
// of the sensor runs in the generator's syscalls and is charged to it;
// the user-space side runs in the benchmark process). It is lean on
// purpose: connects are raw non-blocking socket/connect/close syscalls
// with SO_LINGER 0 (no TIME_WAIT, no netpoller) to a loopback listener
// it runs itself; execs are vfork+exec (Go's ForkExec) of a 129-byte
// static ELF that only exits; UDP sends are sendto on one socket to a
// loopback port it binds itself. Nothing leaves loopback.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const loadGenEnv = "PALISADE_RUNTIME_LOADGEN"

// loadSpec is what the generator does: workers of each kind for Seconds,
// flat out when the rate is 0, else paced to that total rate per second.
type loadSpec struct {
	Seconds                                 float64
	ConnectWorkers, ExecWorkers, UDPWorkers int
	ConnectRate, ExecRate, UDPRate          float64
	// DestWorkers connect one UDP socket each, again and again, to
	// distinct loopback destinations (127.0.0.0/8 addresses and ports in
	// turn) at DestRate in all: each connect is a connect event, new to
	// the kernel-side window too, and sends nothing (a UDP connect only
	// sets the socket's peer).
	DestWorkers int
	DestRate    float64
	// SyscallWorkers call getppid(2) flat out: a syscall no program of
	// the sensor traces, so what it costs more with the sensor loaded is
	// the syscall tracepoints' slow path that every syscall of every task
	// takes while any of them is enabled.
	SyscallWorkers int
	// Index tells the generators of one run apart (runLoads sets it):
	// their destinations differ.
	Index      int
	ExitBinary string
	// UDPUnread leaves the generator's UDP port unread: the sensor sees
	// each send all the same, and the datagrams that a full receive
	// buffer drops cost the generator no receive syscall.
	UDPUnread bool
	// MaxBacklog, in seconds, bounds how far behind its rate a paced
	// worker catches up after it was not scheduled: a worker that fell
	// further behind forgets the rest (0: it catches up on everything,
	// at whatever burst rate that takes).
	MaxBacklog float64
}

// loadResult is what it did.
type loadResult struct {
	Connects, ConnectErrors, Execs, UDPSends int64
	DestConnects                             int64
	Syscalls                                 int64
	Elapsed                                  float64
}

// exitELF is a complete static x86-64 Linux executable: one program
// header mapping the file, and `mov eax, 60; xor edi, edi; syscall`
// (exit(0)) at its entry point, 0x400078.
func exitELF() []byte {
	b := make([]byte, 0, 129)
	le := func(v uint64, n int) {
		for i := range n {
			b = append(b, byte(v>>(8*i)))
		}
	}
	b = append(b, 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	le(2, 2)        // ET_EXEC
	le(0x3e, 2)     // x86-64
	le(1, 4)        // version
	le(0x400078, 8) // entry
	le(64, 8)       // program headers at 64
	le(0, 8)        // no section headers
	le(0, 4)        // flags
	le(64, 2)       // header size
	le(56, 2)       // program header size
	le(1, 2)        // one
	le(0, 2)        // section header size
	le(0, 2)        // none
	le(0, 2)        // no names
	le(1, 4)        // PT_LOAD
	le(5, 4)        // R+X
	le(0, 8)        // offset
	le(0x400000, 8) // vaddr
	le(0x400000, 8) // paddr
	le(129, 8)      // file size
	le(129, 8)      // memory size
	le(0x1000, 8)   // alignment
	b = append(b, 0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05)
	return b
}

// pace sleeps while a worker is ahead of its share of rate. With a
// backlog bound, it moves *start forward so the worker is never more than
// backlog seconds behind.
func pace(start *time.Time, done int64, rate, backlog float64) {
	if rate <= 0 {
		return
	}
	if backlog > 0 {
		if behind := time.Since(*start).Seconds() - float64(done)/rate; behind > backlog {
			*start = start.Add(time.Duration((behind - backlog) * float64(time.Second)))
		}
	}
	for float64(done) > rate*time.Since(*start).Seconds() {
		time.Sleep(200 * time.Microsecond)
	}
}

func runLoadGenerator(specJSON string) int {
	var s loadSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
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
	port := ln.Addr().(*net.TCPAddr).Port
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	defer uc.Close()
	udpPort := uc.LocalAddr().(*net.UDPAddr).Port
	if !s.UDPUnread {
		go func() { // drain, so the receive buffer's drops cost nothing extra
			buf := make([]byte, 64)
			for {
				if _, _, err := uc.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
	}

	var res loadResult
	var connects, connErrs, execs, udps atomic.Int64
	deadline := time.Now().Add(time.Duration(s.Seconds * float64(time.Second)))
	start := time.Now()
	var wg sync.WaitGroup
	for range s.ConnectWorkers {
		wg.Go(func() {
			sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
			linger := &syscall.Linger{Onoff: 1, Linger: 0}
			var n int64
			paced := start
			for time.Now().Before(deadline) {
				pace(&paced, n, s.ConnectRate/float64(s.ConnectWorkers), s.MaxBacklog)
				fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
				if err != nil {
					connErrs.Add(1)
					continue
				}
				_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, linger)
				if err := syscall.Connect(fd, sa); err == nil || err == syscall.EINPROGRESS {
					n++
				} else {
					connErrs.Add(1)
				}
				syscall.Close(fd)
			}
			connects.Add(n)
		})
	}
	for range s.ExecWorkers {
		wg.Go(func() {
			var n int64
			paced := start
			argv := []string{"x"}
			attr := &syscall.ProcAttr{}
			for time.Now().Before(deadline) {
				pace(&paced, n, s.ExecRate/float64(s.ExecWorkers), s.MaxBacklog)
				pid, err := syscall.ForkExec(s.ExitBinary, argv, attr)
				if err != nil {
					continue
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err == nil && ws.Exited() && ws.ExitStatus() == 0 {
					n++
				}
			}
			execs.Add(n)
		})
	}
	for range s.UDPWorkers {
		wg.Go(func() {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return
			}
			defer syscall.Close(fd)
			sa := &syscall.SockaddrInet4{Port: udpPort, Addr: [4]byte{127, 0, 0, 1}}
			msg := []byte{0}
			var n int64
			paced := start
			for time.Now().Before(deadline) {
				pace(&paced, n, s.UDPRate/float64(s.UDPWorkers), s.MaxBacklog)
				if syscall.Sendto(fd, msg, 0, sa) == nil {
					n++
				}
			}
			udps.Add(n)
		})
	}
	var syscalls atomic.Int64
	for range s.SyscallWorkers {
		wg.Go(func() {
			var n int64
			for time.Now().Before(deadline) {
				for range 1000 {
					syscall.Getppid()
				}
				n += 1000
			}
			syscalls.Add(n)
		})
	}
	var dests atomic.Int64
	for w := range s.DestWorkers {
		wg.Go(func() {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return
			}
			defer syscall.Close(fd)
			var n int64
			paced := start
			for i := uint32(0); time.Now().Before(deadline); i++ {
				pace(&paced, n, s.DestRate/float64(s.DestWorkers), s.MaxBacklog)
				// 127.(1+16×Index+w).x.y, port 1024 + i%60000: distinct
				// for each of the first 60,000 × 65,536 connects of a
				// worker, and from the other workers' and generators'.
				a := uint32(i / 60000)
				sa := &syscall.SockaddrInet4{Port: 1024 + int(i%60000), Addr: [4]byte{127, byte(1 + 16*s.Index + w), byte(a >> 8), byte(a)}}
				if syscall.Connect(fd, sa) == nil {
					n++
				}
			}
			dests.Add(n)
		})
	}
	wg.Wait()
	res.DestConnects = dests.Load()
	res.Syscalls = syscalls.Load()
	res.Elapsed = time.Since(start).Seconds()
	res.Connects, res.ConnectErrors, res.Execs, res.UDPSends = connects.Load(), connErrs.Load(), execs.Load(), udps.Load()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 2
	}
	return 0
}
