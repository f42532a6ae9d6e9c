package vulndb

// Photon OS publishes its CVE metadata per release as JSON
// (https://packages.vmware.com/photon/photon_cve_metadata/cve_data_photon5.0.json):
// an array of {"cve_id", "pkg", "cve_score", "aff_ver", "res_ver"}, where
// res_ver is the first fixed version-release ("NA" while there is none)
// and cve_score the CVSS base score. Each CVE becomes a record
// PHOTON-<release>-<CVE> of the ecosystem "Photon OS:<release>".

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FormatPhoton is Photon OS's CVE metadata JSON.
const FormatPhoton = "photon"

// photonEcosystem reads the release from a source name: "photon-5.0".
func photonEcosystem(name string) (string, error) {
	rel := strings.TrimLeft(strings.TrimPrefix(strings.ToLower(name), FormatPhoton), "-_:")
	if rel == "" || strings.Trim(rel, "0123456789.") != "" || !strings.Contains(rel, ".") {
		return "", fmt.Errorf("Photon source %q: name it photon-5.0 (photon-<release>) to say which release it describes", name)
	}
	return "Photon OS:" + rel, nil
}

type photonCVE struct {
	CVE      string   `json:"cve_id"`
	Package  string   `json:"pkg"`
	Score    *float64 `json:"cve_score"`
	Affected string   `json:"aff_ver"`
	Resolved string   `json:"res_ver"`
}

// readPhoton reads a release's JSON (plain or compressed).
func readPhoton(ctx context.Context, path, name string, add func(*Record) error) (readStats, error) {
	var st readStats
	eco, err := photonEcosystem(name)
	if err != nil {
		return st, err
	}
	err = forEachDocument(ctx, path, func(n string) bool { return strings.HasSuffix(n, ".json") }, func(doc string, r io.Reader) error {
		recs, err := parsePhoton(r, eco, &st)
		if err != nil {
			return fmt.Errorf("%s: %w", doc, err)
		}
		for _, rec := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := rec.validate(); err != nil {
				st.skip(rec.ID, err)
				continue
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

// parsePhoton streams the array and groups its entries by CVE.
func parsePhoton(r io.Reader, eco string, st *readStats) ([]*Record, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '['); err != nil {
		return nil, fmt.Errorf("Photon CVE metadata: %w", err)
	}
	byCVE := map[string]*Record{}
	rel := strings.TrimPrefix(eco, "Photon OS:")
	for i := 0; dec.More(); i++ {
		var e photonCVE
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("Photon CVE metadata: [%d]: %w", i, err)
		}
		item := fmt.Sprintf("[%d]", i)
		if !IsCVE(e.CVE) || e.Package == "" || len(e.Package) > maxNameLen {
			st.skip(item, errors.New("entry without a CVE ID and package"))
			continue
		}
		rec := byCVE[e.CVE]
		if rec == nil {
			if len(byCVE) >= maxArchiveEntries {
				return nil, errors.New("Photon CVE metadata: too many CVEs")
			}
			rec = &Record{ID: "PHOTON-" + rel + "-" + e.CVE, Aliases: []string{e.CVE},
				References: []Reference{{Type: "ADVISORY", URL: "https://nvd.nist.gov/vuln/detail/" + e.CVE}}}
			byCVE[e.CVE] = rec
		}
		if len(rec.Affected) >= maxAffected {
			continue
		}
		spec := map[string]string{}
		if e.Score != nil {
			spec["severity"] = cvssWord(*e.Score)
		}
		ev := []Event{{Introduced: "0"}}
		if fix := strings.TrimSpace(e.Resolved); fix != "" && !strings.EqualFold(fix, "NA") {
			ev = append(ev, Event{Fixed: truncate(fix, 256)})
		} else {
			spec["fix_state"], spec["fix_state_reason"] = "affected", "res_ver NA"
		}
		b, _ := json.Marshal(spec)
		rec.Affected = append(rec.Affected, Affected{Package: Package{Ecosystem: eco, Name: e.Package},
			Ranges: []Range{{Type: RangeEcosystem, Events: ev}}, DatabaseSpecific: b})
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, fmt.Errorf("Photon CVE metadata: %w", err)
	}
	ids := make([]string, 0, len(byCVE))
	for id := range byCVE {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*Record, 0, len(ids))
	for _, id := range ids {
		out = append(out, byCVE[id])
	}
	return out, nil
}

// cvssWord is the qualitative rating of a CVSS v3 base score.
func cvssWord(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	case score > 0:
		return "low"
	}
	return "none"
}
