package gobuild

import (
	"bytes"
	"testing"
)

// FuzzReadStream: any stream ends in build information or an error,
// never a panic, and the reader never buffers more than its caps.
func FuzzReadStream(f *testing.F) {
	f.Add(elfWith(inlineHeader("go1.22.1", sentinel("path\tx\nmod\tx\t(devel)\t\n"))))
	f.Add(elfWith([]byte(magic)))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadStream(bytes.NewReader(data))
		// Also with a valid prefix, so the fuzzer reaches the header code.
		_, _ = ReadStream(bytes.NewReader(append(elfWith([]byte(magic)), data...)))
	})
}
