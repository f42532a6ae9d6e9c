package image

import (
	"sort"
	"strings"
)

// Executables lists the absolute paths at which the image holds something
// executable: regular files with an execute bit, symlinks that resolve to
// one, and the same paths reached through a symlink to a directory (a
// merged /usr's /bin → usr/bin gives /bin/sh for /usr/bin/sh), one level
// deep. This is the file list the runtime sensor's drift check compares
// executed paths with (docs/runtime.md); a path the kernel reports for an
// exec is as the caller wrote it, so the aliases matter. ok is false, and
// nothing is returned, when there are more than max: a partial list would
// report the image's own binaries as drift.
func (f *FS) Executables(max int) (paths []string, ok bool) {
	var dirLinks []struct{ alias, target string }
	var walk func(n *node, p string) bool
	walk = func(n *node, p string) bool {
		for name, c := range n.kids {
			cp := p + "/" + name
			switch {
			case c.isDir():
				if !walk(c, cp) {
					return false
				}
			case c.isSymlink():
				t := f.lookup(strings.TrimPrefix(cp, "/"), true)
				switch {
				case t == nil:
				case t.isDir():
					dirLinks = append(dirLinks, struct{ alias, target string }{cp, "/" + t.path()})
				case t.mode.IsRegular() && t.mode&0o111 != 0:
					paths = append(paths, cp)
				}
			case c.mode.IsRegular() && c.mode&0o111 != 0:
				paths = append(paths, cp)
			}
			if len(paths) > max {
				return false
			}
		}
		return true
	}
	if !walk(f.root, "") {
		return nil, false
	}
	sort.Strings(paths)
	direct := len(paths)
	for _, l := range dirLinks {
		prefix := l.target + "/"
		if l.target == "/" {
			prefix = "/"
		}
		// The direct paths under the link's target are contiguous once sorted.
		i := sort.SearchStrings(paths[:direct], prefix)
		for ; i < direct && strings.HasPrefix(paths[i], prefix); i++ {
			paths = append(paths, l.alias+"/"+paths[i][len(prefix):])
			if len(paths) > max {
				return nil, false
			}
		}
	}
	sort.Strings(paths)
	return paths, true
}
