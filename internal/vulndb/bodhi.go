package vulndb

// Fedora publishes its updates through Bodhi
// (https://bodhi.fedoraproject.org/docs/server_api/, GET /updates/?type=security):
// pages of {"updates": [...]}, each update with its alias
// (FEDORA-2024-…), severity, release (version 40), the builds it ships
// (source NVRs, with their epoch) and the bugs it closes, whose titles
// name the CVEs. Each stable security update becomes a record of the
// ecosystem "Fedora:<version>" whose entries are source packages (a
// Fedora rpm is matched by its source rpm), fixed at the build's
// epoch:version-release.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FormatBodhi is Fedora's Bodhi updates JSON.
const FormatBodhi = "bodhi"

// maxBodhiPage bounds one page of the updates API.
const maxBodhiPage = 256 << 20

type bodhiUpdate struct {
	Alias    string `json:"alias"`
	Title    string `json:"title"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Severity string `json:"severity"`
	Notes    string `json:"notes"`
	Stable   string `json:"date_stable"`
	Release  struct {
		Version  string `json:"version"`
		IDPrefix string `json:"id_prefix"`
	} `json:"release"`
	Builds []struct {
		NVR   string `json:"nvr"`
		Epoch *int   `json:"epoch"`
		Type  string `json:"type"`
	} `json:"builds"`
	Bugs []struct {
		Title string `json:"title"`
	} `json:"bugs"`
}

var cveInText = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`CVE-\d{4}-\d{4,}`) })

// readBodhi reads pages of the updates API (a file, a directory or an
// archive of them).
func readBodhi(ctx context.Context, path string, add func(*Record) error) (readStats, error) {
	var st readStats
	err := forEachDocument(ctx, path, func(n string) bool { return strings.HasSuffix(n, ".json") }, func(doc string, r io.Reader) error {
		data, err := io.ReadAll(io.LimitReader(r, maxBodhiPage+1))
		if err != nil {
			return err
		}
		if len(data) > maxBodhiPage {
			return fmt.Errorf("%s: %w", doc, errDocumentTooLarge)
		}
		recs, err := parseBodhiPage(data, &st)
		if err != nil {
			return fmt.Errorf("%s: %w", doc, err)
		}
		for _, rec := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.records++
			if err := add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// parseBodhiPage returns the valid records of one page.
func parseBodhiPage(data []byte, st *readStats) ([]*Record, error) {
	var page struct {
		Updates *[]json.RawMessage `json:"updates"`
	}
	if err := json.Unmarshal(data, &page); err != nil || page.Updates == nil {
		return nil, errors.New("not a Bodhi updates page (want {\"updates\": [...]})")
	}
	var out []*Record
	for i, raw := range *page.Updates {
		var u bodhiUpdate
		if err := json.Unmarshal(raw, &u); err != nil {
			st.skip(fmt.Sprintf("updates[%d]", i), err)
			continue
		}
		rec, err := u.record()
		if err == nil && rec != nil {
			err = rec.validate()
		}
		if err != nil {
			st.skip(truncate(u.Alias, 64), err)
			continue
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// record converts a stable Fedora security update; nil for others.
func (u *bodhiUpdate) record() (*Record, error) {
	if u.Type != "security" || u.Status != "stable" || u.Release.IDPrefix != "FEDORA" {
		return nil, nil
	}
	if _, err := strconv.Atoi(u.Release.Version); err != nil {
		return nil, fmt.Errorf("release version %q", truncate(u.Release.Version, 20))
	}
	rec := &Record{ID: strings.TrimSpace(u.Alias), Summary: truncate(strings.TrimSpace(u.Title), 1024),
		Details:    truncate(strings.TrimSpace(u.Notes), 64<<10),
		References: []Reference{{Type: "ADVISORY", URL: "https://bodhi.fedoraproject.org/updates/" + url.PathEscape(u.Alias)}}}
	if t, err := time.Parse(time.DateTime, u.Stable); err == nil {
		rec.Modified = t.UTC()
	}
	seen := map[string]bool{}
	for _, b := range u.Bugs {
		for _, id := range cveInText().FindAllString(b.Title, 8) {
			if !seen[id] && len(rec.Aliases) < maxAliases {
				seen[id] = true
				rec.Aliases = append(rec.Aliases, id)
			}
		}
	}
	spec, _ := json.Marshal(map[string]any{"severity": truncate(u.Severity, 32), "source_package": true})
	eco := "Fedora:" + u.Release.Version
	for _, b := range u.Builds {
		if b.Type != "" && b.Type != "rpm" {
			continue
		}
		name, ver, ok := splitNVR(b.NVR)
		if !ok || len(rec.Affected) >= maxAffected {
			continue
		}
		if b.Epoch != nil && *b.Epoch > 0 {
			ver = strconv.Itoa(*b.Epoch) + ":" + ver
		}
		rec.Affected = append(rec.Affected, Affected{Package: Package{Ecosystem: eco, Name: name},
			Ranges: []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: ver}}}}, DatabaseSpecific: spec})
	}
	if len(rec.Affected) == 0 {
		return nil, errors.New("no rpm builds")
	}
	return rec, nil
}

// splitNVR splits "openssl-3.1.4-3.fc40" into the name and
// version-release.
func splitNVR(nvr string) (name, vr string, ok bool) {
	i := strings.LastIndexByte(nvr, '-')
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(nvr[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return nvr[:j], nvr[j+1:], true
}
