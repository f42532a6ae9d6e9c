package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Attribution says where an event came from.
type Attribution struct {
	// Host is set for processes outside any container.
	Host bool `json:"host,omitempty"`
	// CgroupPath is the cgroup v2 path below the hierarchy's root.
	CgroupPath string `json:"cgroupPath,omitempty"`
	// Runtime is the container runtime the cgroup path shape names:
	// containerd, cri-o, docker, podman or "cgroupfs" (kubelet's cgroupfs
	// driver, runtime not named in the path).
	Runtime     string `json:"runtime,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
	PodUID      string `json:"podUID,omitempty"`
	// StartedAt is the start of the oldest live process in the container's
	// cgroup (its init), the container's start for the drift detection.
	StartedAt time.Time `json:"startedAt,omitzero"`
	Pod       *Pod      `json:"pod,omitempty"`
	// Unknown is set when the cgroup could not be attributed: its id was
	// not found, or its path has a shape no known runtime writes.
	Unknown bool `json:"unknown,omitempty"`
}

// Pod is what the agent's pod informer knows about a container's pod.
type Pod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Owner is the controlling workload, "Deployment/web".
	Owner     string `json:"owner,omitempty"`
	Container string `json:"container,omitempty"`
	Image     string `json:"image,omitempty"`
	// RunAsNonRoot is set when the pod or container spec demanded a
	// non-root user (runAsNonRoot true or runAsUser non-zero).
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`
}

// PodLookup finds the pod of a container; the agent implements it over its
// pod informer. It must be safe for concurrent use.
type PodLookup interface {
	LookupPod(ctx context.Context, containerID, podUID string) (*Pod, bool)
}

var (
	hex64      = `([0-9a-f]{64})`
	scopeShape = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(cri-containerd|crio|docker|libpod)-` + hex64 + `\.scope$`)
	})
	bareID     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + hex64 + `$`) })
	podSegment = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)
	})
)

var scopeRuntime = map[string]string{"cri-containerd": "containerd", "crio": "cri-o", "docker": "docker", "libpod": "podman"}

// ParseCgroupPath reads a container ID from the cgroup path shapes the
// runtimes write: systemd-driver scopes (cri-containerd-ID.scope,
// crio-ID.scope, docker-ID.scope, libpod-ID.scope), the cgroupfs driver's
// /kubepods/<qos>/pod<uid>/<id> (kubelet, K3s), and Docker's /docker/<id>.
// A path under a container hierarchy without a recognisable ID is unknown;
// any other path is the host's.
func ParseCgroupPath(p string) Attribution {
	a := Attribution{CgroupPath: p}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if m := podSegment().FindStringSubmatch(p); m != nil {
		a.PodUID = strings.ReplaceAll(m[1], "_", "-")
	}
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if m := scopeShape().FindStringSubmatch(s); m != nil {
			a.Runtime, a.ContainerID = scopeRuntime[m[1]], m[2]
			return a
		}
		if m := bareID().FindStringSubmatch(s); m != nil && i > 0 {
			switch parent := segs[i-1]; {
			case parent == "docker":
				a.Runtime = "docker"
			case strings.HasPrefix(parent, "pod"):
				a.Runtime = "cgroupfs"
			default:
				continue
			}
			a.ContainerID = m[1]
			return a
		}
	}
	top := segs[0]
	if strings.HasPrefix(top, "kubepods") || top == "docker" || top == "machine.slice" || a.PodUID != "" {
		// Inside a container hierarchy but no container: a pod's own
		// cgroup (the pause sandbox's parent) or a runtime not known here.
		a.Unknown = true
		return a
	}
	a.Host = true
	return a
}

// Resolver maps cgroup ids to attributions. The cgroup v2 id is the inode
// number of the cgroup's directory; the resolver walks the hierarchy on a
// miss (at most once per MinRefresh) and keeps what it found by id, so a
// container that has exited is still attributed from the cache.
type Resolver struct {
	Root       string
	MinRefresh time.Duration
	MaxEntries int
	Pods       PodLookup

	mu          sync.Mutex
	byID        map[uint64]Attribution
	lastWalk    time.Time
	walkErr     error
	unknown     uint64
	unknownSeen map[uint64]bool
	startTried  map[uint64]bool
}

// NewResolver returns a resolver over the cgroup v2 hierarchy mounted at
// root (see CgroupV2Root).
func NewResolver(root string, pods PodLookup) *Resolver {
	return &Resolver{Root: root, MinRefresh: time.Second, MaxEntries: 65536, Pods: pods, byID: map[uint64]Attribution{}, unknownSeen: map[uint64]bool{}, startTried: map[uint64]bool{}}
}

// Unknown returns how many distinct cgroups could not be attributed.
func (r *Resolver) Unknown() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknown
}

// Resolve attributes a cgroup id. Id 0 (records from interrupt context, such
// as accepts) resolves to an unknown attribution without a walk.
func (r *Resolver) Resolve(ctx context.Context, id uint64) Attribution {
	if id == 0 {
		return Attribution{Unknown: true}
	}
	r.mu.Lock()
	a, ok := r.byID[id]
	if !ok && time.Since(r.lastWalk) >= r.MinRefresh {
		r.walkLocked()
		a, ok = r.byID[id]
	}
	if !ok || a.Unknown {
		if !r.unknownSeen[id] && len(r.unknownSeen) < r.MaxEntries {
			r.unknownSeen[id] = true
			r.unknown++
		}
	}
	r.mu.Unlock()
	if !ok {
		return Attribution{Unknown: true}
	}
	if a.ContainerID != "" && a.StartedAt.IsZero() && !r.startTried[id] {
		// The cgroup directory's times move when processes join it, so the
		// container's start is its oldest process's start. Tried once per
		// cgroup: a container whose processes are all gone stays unknown.
		t, err := oldestStart(filepath.Join(r.Root, a.CgroupPath))
		r.mu.Lock()
		if len(r.startTried) >= r.MaxEntries {
			clear(r.startTried)
		}
		r.startTried[id] = true
		if err == nil {
			a.StartedAt = t
			r.byID[id] = a
		}
		r.mu.Unlock()
	}
	if a.ContainerID != "" && a.Pod == nil && r.Pods != nil {
		if p, found := r.Pods.LookupPod(ctx, a.ContainerID, a.PodUID); found {
			a.Pod = p
			r.mu.Lock()
			r.byID[id] = a
			r.mu.Unlock()
		}
	}
	return a
}

func (r *Resolver) walkLocked() {
	r.lastWalk = time.Now()
	r.walkErr = filepath.WalkDir(r.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // a cgroup removed during the walk: skip it
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if _, known := r.byID[st.Ino]; known {
			return nil
		}
		if len(r.byID) >= r.MaxEntries {
			for k := range r.byID { // bounded: drop an arbitrary entry
				delete(r.byID, k)
				break
			}
		}
		rel, _ := filepath.Rel(r.Root, p)
		r.byID[st.Ino] = ParseCgroupPath("/" + strings.TrimPrefix(filepath.ToSlash(rel), "."))
		return nil
	})
}

// CgroupV2Root finds where the cgroup v2 hierarchy is mounted:
// /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones.
// bpf_get_current_cgroup_id reports ids of this hierarchy.
func CgroupV2Root() (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find the cgroup v2 mount: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		// mountinfo: ... mountpoint ... - fstype source options
		left, right, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(right, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(left); len(f) >= 5 {
			return f[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted: containers cannot be attributed")
}

// maxProcsRead bounds the pids read from one cgroup.procs.
const maxProcsRead = 4096

// oldestStart returns the start time of the oldest process in a cgroup,
// from /proc/<pid>/stat's starttime (clock ticks since boot, 10 ms on
// Linux's fixed USER_HZ of 100) and the boot time in /proc/stat.
func oldestStart(cgdir string) (time.Time, error) {
	data, err := os.ReadFile(filepath.Join(cgdir, "cgroup.procs"))
	if err != nil {
		return time.Time{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	var oldest uint64
	found := false
	for i, f := range strings.Fields(string(data)) {
		if i >= maxProcsRead {
			break
		}
		stat, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue // exited since
		}
		// comm may hold spaces and parentheses: fields follow the last ")".
		rest := string(stat)
		if j := strings.LastIndexByte(rest, ')'); j >= 0 {
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 20 {
			continue
		}
		st, err := strconv.ParseUint(fields[19], 10, 64) // field 22 overall
		if err != nil {
			continue
		}
		if !found || st < oldest {
			oldest, found = st, true
		}
	}
	if !found {
		return time.Time{}, fmt.Errorf("no live process in %s", cgdir)
	}
	const userHZ = 100
	return boot.Add(time.Duration(oldest) * time.Second / userHZ), nil
}

func bootTime() (time.Time, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat btime %q: %w", v, err)
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, errors.New("/proc/stat has no btime")
}
