// Package rpmdb reads the installed-package database of rpm in its three
// on-disk forms: BerkeleyDB hash files (var/lib/rpm/Packages, RHEL ≤ 8,
// CentOS, Amazon Linux 2), NDB (Packages.db, SUSE) and SQLite
// (rpmdb.sqlite, RHEL 9, Fedora ≥ 33, CBL-Mariner). All three store the
// same thing per package: an rpm header blob, which Header decodes.
//
// Every reader is written for hostile input: offsets and lengths are
// checked against the file and the blob, page chains are bounded by the
// page count, and a malformed database is an error, never a panic.
package rpmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Tags of the header fields read here (rpmtag.h).
const (
	tagName      = 1000
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagLicense   = 1014
	tagArch      = 1022
	tagSourceRPM = 1044
)

// Header value types (rpmtag.h rpmTagType).
const (
	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
)

// Package is the part of an rpm header that a scanner needs.
type Package struct {
	Name, Version, Release string
	// Epoch is nil when the header has none (rpm prints "(none)", and
	// %{EPOCHNUM} 0).
	Epoch     *int
	Arch      string
	SourceRPM string
	License   string
}

// EVR returns [epoch:]version-release, the version rpm compares.
func (p Package) EVR() string {
	v := p.Version + "-" + p.Release
	if p.Epoch != nil && *p.Epoch != 0 {
		v = fmt.Sprintf("%d:%s", *p.Epoch, v)
	}
	return v
}

// Source returns the source package name and version from SOURCERPM "name-version-release.src.rpm".
func (p Package) Source() (name, version string) {
	s := strings.TrimSuffix(strings.TrimSuffix(p.SourceRPM, ".rpm"), ".src")
	s = strings.TrimSuffix(s, ".nosrc")
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", ""
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return "", ""
	}
	return s[:j], s[j+1:]
}

var errHeader = errors.New("malformed rpm header")

// maxIndexEntries bounds the index of one header; real headers have a
// few hundred entries.
const maxIndexEntries = 1 << 16

// ParseHeader decodes a header blob as stored in the database: a
// big-endian entry count and data length, the index entries (tag, type,
// offset, count; 16 bytes each) and the data store.
func ParseHeader(blob []byte) (*Package, error) {
	if len(blob) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", errHeader, len(blob))
	}
	il := binary.BigEndian.Uint32(blob[0:4])
	dl := binary.BigEndian.Uint32(blob[4:8])
	if il == 0 || il > maxIndexEntries {
		return nil, fmt.Errorf("%w: %d index entries", errHeader, il)
	}
	dataStart := uint64(8) + uint64(il)*16
	if dataStart+uint64(dl) > uint64(len(blob)) {
		return nil, fmt.Errorf("%w: index and data (%d+%d bytes) exceed the blob (%d bytes)", errHeader, dataStart, dl, len(blob))
	}
	data := blob[dataStart : dataStart+uint64(dl)]
	p := &Package{}
	for i := uint32(0); i < il; i++ {
		e := blob[8+i*16 : 8+i*16+16]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		count := binary.BigEndian.Uint32(e[12:16])
		if off >= uint32(len(data)) {
			continue // region trailers point past the data; nothing read here does
		}
		switch tag {
		case tagName, tagVersion, tagRelease, tagArch, tagSourceRPM, tagLicense:
			if typ != typeString && typ != typeI18NString && typ != typeStringArray {
				return nil, fmt.Errorf("%w: tag %d has type %d, not string", errHeader, tag, typ)
			}
			s := cString(data[off:])
			switch tag {
			case tagName:
				p.Name = s
			case tagVersion:
				p.Version = s
			case tagRelease:
				p.Release = s
			case tagArch:
				p.Arch = s
			case tagSourceRPM:
				p.SourceRPM = s
			case tagLicense:
				p.License = s
			}
		case tagEpoch:
			if typ != typeInt32 || count < 1 || uint64(off)+4 > uint64(len(data)) {
				return nil, fmt.Errorf("%w: bad epoch entry", errHeader)
			}
			ep := int(int32(binary.BigEndian.Uint32(data[off : off+4])))
			p.Epoch = &ep
		}
	}
	if p.Name == "" || p.Version == "" {
		return nil, fmt.Errorf("%w: no name or version", errHeader)
	}
	return p, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
