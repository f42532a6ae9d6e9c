package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// OverlayDrift decides the drift check from the node's own file systems:
// container runtimes (containerd, CRI-O, Docker, K3s) give each container
// an overlay root whose lower layers are the image's and whose upper layer
// holds what was written since the container started. A binary executed
// from the upper layer, or from a volume mounted over the image, is not
// the image's; one found in a lower layer is.
//
// The layers' directories in /proc/<pid>/mountinfo are the host's paths:
// HostRoot is where the host's file system (or at least the runtime's
// snapshot directories) is visible to the sensor ("" or "/" for a sensor
// on the host). Reading mountinfo needs no privilege; stat'ing the layers
// needs the snapshot directories mounted into the sensor.
type OverlayDrift struct {
	ProcRoot string
	HostRoot string

	mu     sync.Mutex
	mounts map[string][]mountEntry // container ID → its mounts, read once
	// undecided counts execs the overlay could not decide (mountinfo
	// gone, layers not visible, a path in no layer): the change-time test
	// decides those.
	undecided atomic.Uint64
}

// maxOverlayContainers bounds the containers whose mounts are kept.
const maxOverlayContainers = 4096

// maxMountinfo bounds the mountinfo read of one process (a container has
// tens of mounts; a hostile or broken one is refused, not read whole).
const maxMountinfo = 1 << 20

type mountEntry struct {
	point  string // mount point, relative to the process's root
	fstype string
	upper  string   // overlay upperdir, host path
	lowers []string // overlay lowerdirs, host paths, top first
}

// overlayVerdict is what the overlay says of one executed path.
type overlayVerdict int

const (
	overlayUnknown overlayVerdict = iota
	overlayImage                  // in a lower (image) layer
	overlayUpper                  // in the upper (writable) layer
	overlayVolume                 // on a mount over the image (a volume)
)

// Undecided is the number of execs the overlay evidence could not decide.
func (o *OverlayDrift) Undecided() uint64 { return o.undecided.Load() }

// judge locates an executed path in the container's layers. The mounts
// are read from the first process seen of each container and kept: a
// container's mounts are fixed at its start.
func (o *OverlayDrift) judge(containerID string, pid uint32, p string) (overlayVerdict, string) {
	if !strings.HasPrefix(p, "/") {
		o.undecided.Add(1)
		return overlayUnknown, ""
	}
	mounts, err := o.mountsOf(containerID, pid)
	if err != nil {
		o.undecided.Add(1)
		return overlayUnknown, ""
	}
	root, at := rootOf(mounts), mountAt(mounts, p)
	if at == nil {
		o.undecided.Add(1)
		return overlayUnknown, ""
	}
	if at.fstype != "overlay" {
		if root != nil && root.fstype == "overlay" {
			return overlayVolume, fmt.Sprintf("was executed from a %s mount at %s over the image's root, not from the image", at.fstype, at.point)
		}
		// Not an overlay container (a host process, a runtime without
		// overlays): the overlay says nothing.
		o.undecided.Add(1)
		return overlayUnknown, ""
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, at.point), "/")
	if at.upper != "" {
		if exists, err := o.present(at.upper, rel); err == nil && exists {
			return overlayUpper, "is in the container's writable overlay layer (upperdir " + at.upper + "): written after the container started, not in the image's layers"
		}
	}
	for _, l := range at.lowers {
		if exists, err := o.present(l, rel); err == nil && exists {
			return overlayImage, ""
		}
	}
	o.undecided.Add(1)
	return overlayUnknown, ""
}

// present reports whether rel exists in a layer directory. A whiteout (a
// 0/0 character device) is a deletion, not a file.
func (o *OverlayDrift) present(layer, rel string) (bool, error) {
	host := o.HostRoot
	if host == "" {
		host = "/"
	}
	var st syscall.Stat_t
	err := syscall.Lstat(filepath.Join(host, layer, rel), &st)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == 0 {
		return false, nil
	}
	return true, nil
}

func (o *OverlayDrift) mountsOf(containerID string, pid uint32) ([]mountEntry, error) {
	o.mu.Lock()
	m, ok := o.mounts[containerID]
	o.mu.Unlock()
	if ok {
		return m, nil
	}
	proc := o.ProcRoot
	if proc == "" {
		proc = "/proc"
	}
	f, err := os.Open(proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err = parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("pid %d mountinfo: %w", pid, err)
	}
	o.mu.Lock()
	if o.mounts == nil || len(o.mounts) >= maxOverlayContainers {
		o.mounts = map[string][]mountEntry{}
	}
	o.mounts[containerID] = m
	o.mu.Unlock()
	return m, nil
}

// parseMountinfo reads proc(5)'s mountinfo: "id parent major:minor root
// mountpoint options [optional...] - fstype source superoptions". Later
// lines win for a mount point (a mount over another hides it).
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxMountinfo)
	var out []mountEntry
	total := 0
	for sc.Scan() {
		line := sc.Text()
		if total += len(line) + 1; total > maxMountinfo {
			return nil, fmt.Errorf("longer than %d bytes", maxMountinfo)
		}
		left, right, ok := strings.Cut(line, " - ")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) < 5 || len(rf) < 2 {
			return nil, fmt.Errorf("line %d: not a mountinfo line", len(out)+1)
		}
		e := mountEntry{point: unescapeMount(lf[4]), fstype: rf[0]}
		if e.fstype == "overlay" && len(rf) >= 3 {
			for _, opt := range splitOptions(rf[2]) {
				switch k, v, _ := strings.Cut(opt, "="); k {
				case "upperdir":
					e.upper = unescapeMount(v)
				case "lowerdir":
					for _, l := range splitLower(v) {
						e.lowers = append(e.lowers, unescapeMount(l))
					}
				case "lowerdir+":
					e.lowers = append(e.lowers, unescapeMount(v))
				}
			}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// splitOptions splits super options at commas not escaped with a
// backslash (overlay escapes commas in layer paths).
func splitOptions(s string) []string { return splitUnescaped(s, ',') }

// splitLower splits lowerdir at colons not escaped with a backslash.
func splitLower(s string) []string { return splitUnescaped(s, ':') }

// splitUnescaped splits s at each sep not escaped with a backslash,
// keeping the escapes (the caller unescapes each part).
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, \011,
// \012, \134) and overlay's backslash escapes of ':' and ','.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// rootOf is the mount at "/" (the last one: mounts stack).
func rootOf(ms []mountEntry) *mountEntry {
	var r *mountEntry
	for i := range ms {
		if ms[i].point == "/" {
			r = &ms[i]
		}
	}
	return r
}

// mountAt is the mount holding p: the longest mount point that is p or a
// parent of it (the last listed among equals).
func mountAt(ms []mountEntry, p string) *mountEntry {
	p = path.Clean(p)
	var best *mountEntry
	for i := range ms {
		mp := ms[i].point
		if mp == "/" || p == mp || strings.HasPrefix(p, mp+"/") {
			if best == nil || len(mp) >= len(best.point) {
				best = &ms[i]
			}
		}
	}
	return best
}
