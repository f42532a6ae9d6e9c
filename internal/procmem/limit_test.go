package procmem

import "testing"

func TestGoMemoryLimit(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name       string
		env        map[string]string
		cgroup     int64
		want       int64
		wantSource string
	}{
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "30MiB"}, 1 << 30, 0, "GOMEMLIMIT"},
		{"cgroup 100 MiB", nil, 100 << 20, 70 << 20, "cgroup memory.max"},
		{"neither", nil, 0, DefaultGoMemoryLimit, "default"},
	} {
		l, src := GoMemoryLimit(env(tc.env), func() int64 { return tc.cgroup })
		if l != tc.want || src != tc.wantSource {
			t.Errorf("%s: %d from %s, want %d from %s", tc.name, l, src, tc.want, tc.wantSource)
		}
	}
}
