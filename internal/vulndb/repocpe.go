package vulndb

// Red Hat's repository-to-CPE mapping
// (https://security.access.redhat.com/data/metrics/repository-to-cpe.json):
// for every content set (repository label) Red Hat publishes rpms from,
// the CPEs of the product streams it belongs to:
//
//	{"data": {"rhel-8-for-x86_64-appstream-rpms":
//	              {"cpes": ["cpe:/a:redhat:enterprise_linux:8::appstream"], "repo_relative_urls": [...]},
//	          "rhel-8-for-x86_64-baseos-eus-rpms__8_DOT_6":
//	              {"cpes": ["cpe:/o:redhat:rhel_eus:8.6::baseos"]}, ...}}
//
// Red Hat's images record the content sets their rpms came from in
// /root/buildinfo/content_manifests/*.json; through this mapping the
// matcher learns the image's actual streams (an EUS image receives EUS
// fixes, a standard one does not) instead of guessing them from the
// release. A label's "__<releasever>" variants also count for the plain
// label, the one content manifests name.
//
// The mapping is kept in its own bucket, "repositories": content set,
// NUL, source name -> the CPEs, one per line.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// FormatRedHatCPE is Red Hat's repository-to-CPE JSON.
const FormatRedHatCPE = "redhat-cpe"

// RedHatRepositoryCPEURL is where Red Hat publishes the mapping.
const RedHatRepositoryCPEURL = "https://security.access.redhat.com/data/metrics/repository-to-cpe.json"

var bucketRepositories = []byte("repositories")

// Limits of the mapping: the published file is a few megabytes, about
// 20,000 content sets with a handful of CPEs each.
const (
	maxRepoCPEDocument = 256 << 20
	maxRepositories    = 1_000_000
	maxRepoCPEs        = 256
	maxCPELen          = 256
)

// readRepositoryCPEs reads the mapping from a file (plain, gzip or zip)
// and calls fn with each content set and its Red Hat CPEs. A content set
// with an invalid name, or without a CPE, is skipped and counted; a
// document that is not the mapping is an error.
func readRepositoryCPEs(ctx context.Context, path string, fn func(repo string, cpes []string) error) (readStats, error) {
	var st readStats
	err := readSourceFiles(path, func(r io.Reader) error {
		data, err := io.ReadAll(io.LimitReader(r, maxRepoCPEDocument+1))
		if err != nil {
			return err
		}
		if len(data) > maxRepoCPEDocument {
			return fmt.Errorf("repository-to-CPE mapping: over %d MiB", maxRepoCPEDocument>>20)
		}
		repos, err := parseRepositoryCPEs(data, &st)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(repos))
		for name := range repos {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.records++
			if err := fn(name, repos[name]); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// parseRepositoryCPEs decodes the mapping into content set -> CPEs,
// adding each "label__variant" key's CPEs to the plain label as well.
func parseRepositoryCPEs(data []byte, st *readStats) (map[string][]string, error) {
	var doc struct {
		Data map[string]struct {
			CPEs []string `json:"cpes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("repository-to-CPE mapping: %w", err)
	}
	if doc.Data == nil {
		return nil, errors.New(`repository-to-CPE mapping: no "data" object (not Red Hat's repository-to-cpe.json)`)
	}
	if len(doc.Data) > maxRepositories {
		return nil, fmt.Errorf("repository-to-CPE mapping: %d content sets, limit %d", len(doc.Data), maxRepositories)
	}
	out := map[string][]string{}
	add := func(label string, cpes []string) {
		for _, c := range cpes {
			if !slices.Contains(out[label], c) && len(out[label]) < maxRepoCPEs {
				out[label] = append(out[label], c)
			}
		}
	}
	for label, v := range doc.Data {
		if err := validRepoLabel(label); err != nil {
			st.skip(truncate(label, 64), err)
			continue
		}
		var cpes []string
		for _, c := range v.CPEs {
			if len(c) <= maxCPELen && RedHatStream(c) != "" && !strings.ContainsAny(c, "\x00\n") {
				cpes = append(cpes, c)
			}
		}
		if len(cpes) == 0 {
			st.skip(label, errors.New("no Red Hat CPE"))
			continue
		}
		add(label, cpes)
		if plain, _, ok := strings.Cut(label, "__"); ok && plain != "" {
			add(plain, cpes)
		}
	}
	for _, cpes := range out {
		sort.Strings(cpes)
	}
	return out, nil
}

// validRepoLabel accepts content set labels: printable ASCII without
// spaces, NUL or path separators, at most 256 bytes.
func validRepoLabel(label string) error {
	if label == "" || len(label) > 256 {
		return errors.New("content set label empty or longer than 256 bytes")
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; c <= ' ' || c >= 0x7f || c == '/' || c == '\\' {
			return errors.New("content set label: invalid character")
		}
	}
	return nil
}

// RepositoryCPEs returns the Red Hat CPEs of a content set across the
// mapping sources, sorted; nil when no source knows it.
func (db *DB) RepositoryCPEs(repo string) ([]string, error) {
	var out []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRepositories)
		if b == nil {
			return nil
		}
		prefix := []byte(repo + "\x00")
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			for _, cpe := range strings.Split(string(v), "\n") {
				if cpe != "" && !slices.Contains(out, cpe) {
					out = append(out, cpe)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: content set %s: %w", db.path, repo, err)
	}
	sort.Strings(out)
	return out, nil
}

// HasRepositoryMapping reports whether a repository-to-CPE source is
// imported: without one, content sets cannot qualify Red Hat packages.
func (db *DB) HasRepositoryMapping() bool {
	for _, s := range db.meta.Sources {
		if s.Repositories > 0 {
			return true
		}
	}
	return false
}

// forEachRepositoryOf calls fn with every content set a source mapped,
// for carrying a source that did not change into a new build.
func (db *DB) forEachRepositoryOf(ctx context.Context, source string, fn func(repo string, cpes []string) error) error {
	suffix := []byte("\x00" + source)
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRepositories)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if !bytes.HasSuffix(k, suffix) || bytes.IndexByte(k, 0) != len(k)-len(suffix) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(string(k[:len(k)-len(suffix)]), strings.Split(string(v), "\n"))
		})
	})
}
