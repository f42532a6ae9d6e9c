package nodeaudit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Bounds on what is read from the host. Configuration files are small;
// logs are only read from their end.
const (
	maxConfigFile = 4 << 20
	maxCmdline    = 256 << 10
	// MaxLogTail is how much of the end of a k3s log is searched for the
	// "Running kube-apiserver" line; the rest of the log is never read.
	MaxLogTail = 4 << 20
)

// Host reads a host file system under a root directory. Every path it is
// given is an absolute host path ("/etc/kubernetes/manifests"); it is
// resolved under the root with os.Root, so symbolic links cannot lead
// outside the tree being audited.
type Host struct {
	root  *os.Root
	dir   string
	users map[uint32]string
	group map[uint32]string
}

// OpenHost opens the host tree at dir ("/" for the running host).
func OpenHost(dir string) (*Host, error) {
	r, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--root %s does not exist: nothing to audit (mount the host's root file system there): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--root %s: %w", dir, err)
	}
	h := &Host{root: r, dir: dir}
	h.users = h.idNames("/etc/passwd")
	h.group = h.idNames("/etc/group")
	return h, nil
}

// Close releases the root directory.
func (h *Host) Close() error { return h.root.Close() }

// Dir is the root directory the host was opened at.
func (h *Host) Dir() string { return h.dir }

func rel(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// ReadFile reads a host file of at most limit bytes.
func (h *Host) ReadFile(p string, limit int64) ([]byte, error) {
	f, err := h.root.Open(rel(p))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return data, nil
}

// Tail reads at most limit bytes from the end of a host file, starting at
// the first full line.
func (h *Host) Tail(p string, limit int64) ([]byte, error) {
	f, err := h.root.Open(rel(p))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	off := max(int64(0), st.Size()-limit)
	buf := make([]byte, st.Size()-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	buf = buf[:n]
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return buf, nil
}

// Exists reports whether a host path exists.
func (h *Host) Exists(p string) bool {
	_, err := h.root.Stat(rel(p))
	return err == nil
}

// ReadDir lists the names in a host directory, sorted; nil when absent.
func (h *Host) ReadDir(p string) []string {
	f, err := h.root.Open(rel(p))
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil
	}
	sort.Strings(names)
	return names
}

// Walk lists every path under a host directory (itself included), up to
// limit entries, without following symbolic links.
func (h *Host) Walk(p string, limit int) []string {
	var out []string
	_ = fs.WalkDir(h.root.FS(), rel(p), func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if len(out) >= limit {
			return fs.SkipAll
		}
		out = append(out, "/"+q)
		return nil
	})
	return out
}

// Stat describes a host file for permission and ownership checks.
func (h *Host) Stat(p string, role FileRole) File {
	f := File{Path: path.Clean(p), Role: role}
	st, err := h.root.Stat(rel(p))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.Err = err.Error()
		}
		return f
	}
	f.Exists, f.IsDir, f.Mode = true, st.IsDir(), st.Mode().Perm()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		f.UID, f.GID = sys.Uid, sys.Gid
		f.OwnerKnown = true
	}
	f.User, f.Group = h.name(h.users, f.UID), h.name(h.group, f.GID)
	return f
}

func (h *Host) name(m map[uint32]string, id uint32) string {
	if n, ok := m[id]; ok {
		return n
	}
	if id == 0 {
		return "root"
	}
	return strconv.FormatUint(uint64(id), 10)
}

// idNames reads name:x:id lines of the host's passwd or group file, so
// owners are named as on the audited host, not as on the machine running
// the audit.
func (h *Host) idNames(p string) map[uint32]string {
	m := map[uint32]string{}
	data, err := h.ReadFile(p, maxConfigFile)
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = fields[0]
		}
	}
	return m
}
