package manifest

import (
	"bufio"
	"io"
)

func bufioReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok && br.Size() >= sniffBytes {
		return br
	}
	return bufio.NewReaderSize(r, 64<<10)
}
