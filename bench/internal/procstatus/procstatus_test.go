package procstatus

import (
	"os"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	status := []byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 512 kB\nThreads:\t4\n")
	for _, tc := range []struct {
		names []string
		want  []int64
	}{
		{[]string{"VmRSS"}, []int64{1024}},
		{[]string{"VmHWM", "RssAnon", "Threads"}, []int64{2048, 512, 4}},
		{[]string{"RssFile", "Vm"}, []int64{0, 0}},
	} {
		if got := parse(status, tc.names, make([]int64, len(tc.names))); !slices.Equal(got, tc.want) {
			t.Errorf("parse(%v) = %v, want %v", tc.names, got, tc.want)
		}
	}
}

func TestFieldsOfThisProcess(t *testing.T) {
	got := Fields(os.Getpid(), "VmRSS", "VmHWM")
	if got[0] <= 0 || got[1] < got[0] {
		t.Errorf("VmRSS, VmHWM of this process = %v, want 0 < VmRSS <= VmHWM", got)
	}
	if KiB(-1, "VmRSS") != 0 {
		t.Error("a process that does not exist has no memory")
	}
}
