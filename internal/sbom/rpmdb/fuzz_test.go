package rpmdb

import (
	"bytes"
	"testing"
)

// FuzzParseHeader and FuzzReadBDB/NDB: hostile databases are errors.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x03\xe8\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01abc\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseHeader(data)
		if err == nil {
			p.EVR()
			p.Source()
		}
	})
}

func FuzzReadDatabase(f *testing.F) {
	f.Add([]byte("RpmP\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		_, _ = ReadBDB(r, int64(len(data)))
		_, _ = ReadNDB(r, int64(len(data)))
	})
}
