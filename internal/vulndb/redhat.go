package vulndb

// Red Hat's CSAF VEX documents (https://security.access.redhat.com/data/csaf/v2/vex/,
// one per CVE, in the CSAF 2.0 format of
// https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html with Red
// Hat's conventions): for every product stream (a CPE such
// as cpe:/o:redhat:enterprise_linux:9 or
// cpe:/a:redhat:enterprise_linux:9::appstream) and component, whether the
// CVE is fixed (and in which build), known to affect it with no fix yet
// (and why: "Affected", "Fix deferred", "Will not fix", "Out of support
// scope"), or known not to affect it.
//
// OSV's Red Hat export carries only the RHSA advisories, that is the
// fixes; a CVE Red Hat will not fix, or has deferred, has no RHSA and
// so no OSV record at all. Each VEX document becomes:
//   - a record REDHAT-<CVE> of the streams' affected components, with
//     the fix state and Red Hat's impact, and the fixed builds of the
//     streams that have them;
//   - CVE statuses "not_affected" of the streams Red Hat declares not
//     affected, which the matcher applies as a vendor statement.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// FormatRedHatVEX is Red Hat's CSAF VEX (one JSON document per CVE; a
// directory, or an archive of them such as Red Hat's csaf_vex_*.tar.zst).
const FormatRedHatVEX = "redhat-vex"

// maxCSAFDocument bounds one VEX document (the kernel's are the largest,
// a few megabytes).
const maxCSAFDocument = 128 << 20

type csafBranch struct {
	Category string       `json:"category"`
	Name     string       `json:"name"`
	Branches []csafBranch `json:"branches"`
	Product  *struct {
		Name   string `json:"name"`
		ID     string `json:"product_id"`
		Helper struct {
			CPE  string `json:"cpe"`
			PURL string `json:"purl"`
		} `json:"product_identification_helper"`
	} `json:"product"`
}

type csafDocument struct {
	Document struct {
		Category string `json:"category"`
		Title    string `json:"title"`
		Tracking struct {
			ID                 string `json:"id"`
			InitialReleaseDate string `json:"initial_release_date"`
			CurrentReleaseDate string `json:"current_release_date"`
		} `json:"tracking"`
		AggregateSeverity struct {
			Text string `json:"text"`
		} `json:"aggregate_severity"`
	} `json:"document"`
	ProductTree struct {
		Branches      []csafBranch `json:"branches"`
		Relationships []struct {
			Category        string `json:"category"`
			FullProductName struct {
				ID string `json:"product_id"`
			} `json:"full_product_name"`
			ProductReference   string `json:"product_reference"`
			RelatesToReference string `json:"relates_to_product_reference"`
		} `json:"relationships"`
	} `json:"product_tree"`
	Vulnerabilities []struct {
		CVE           string `json:"cve"`
		Title         string `json:"title"`
		ProductStatus struct {
			Fixed            []string `json:"fixed"`
			KnownAffected    []string `json:"known_affected"`
			KnownNotAffected []string `json:"known_not_affected"`
		} `json:"product_status"`
		Remediations []struct {
			Category   string   `json:"category"`
			Details    string   `json:"details"`
			ProductIDs []string `json:"product_ids"`
			URL        string   `json:"url"`
		} `json:"remediations"`
		Threats []struct {
			Category string `json:"category"`
			Details  string `json:"details"`
		} `json:"threats"`
		Scores []struct {
			CVSSv3 *struct {
				VectorString string `json:"vectorString"`
			} `json:"cvss_v3"`
		} `json:"scores"`
		References []struct {
			URL string `json:"url"`
		} `json:"references"`
	} `json:"vulnerabilities"`
}

type csafProduct struct{ cpe, purl string }

// readRedHatVEX reads every *.json document under path.
func readRedHatVEX(ctx context.Context, path string, add func(*Record) error, addCVE func(*CVEInfo) error) (readStats, error) {
	var st readStats
	err := forEachDocument(ctx, path, func(name string) bool { return strings.HasSuffix(name, ".json") },
		func(name string, r io.Reader) error {
			data, err := io.ReadAll(io.LimitReader(r, maxCSAFDocument+1))
			if err != nil {
				return err
			}
			if len(data) > maxCSAFDocument {
				st.skip(name, errDocumentTooLarge)
				return nil
			}
			rec, info, err := parseRedHatVEX(data)
			if err != nil {
				st.skip(name, err)
				return nil
			}
			if rec != nil {
				if err := st.emit(rec, add); err != nil {
					return err
				}
			}
			if info != nil {
				return addCVE(info)
			}
			return nil
		})
	return st, err
}

// parseRedHatVEX converts one VEX document. Either result may be nil.
func parseRedHatVEX(data []byte) (*Record, *CVEInfo, error) {
	var doc csafDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("CSAF: %w", err)
	}
	if doc.Document.Category != "csaf_vex" {
		return nil, nil, fmt.Errorf("CSAF: document category %q, want csaf_vex", truncate(doc.Document.Category, 40))
	}
	if len(doc.Vulnerabilities) != 1 || !IsCVE(doc.Vulnerabilities[0].CVE) {
		return nil, nil, errors.New("CSAF: want exactly one vulnerability with a CVE ID (Red Hat's one document per CVE)")
	}
	products := map[string]csafProduct{}
	var walk func(bs []csafBranch, depth int)
	walk = func(bs []csafBranch, depth int) {
		if depth > 16 {
			return
		}
		for _, b := range bs {
			if b.Product != nil && b.Product.ID != "" && len(products) < maxAffected*10 {
				products[b.Product.ID] = csafProduct{cpe: b.Product.Helper.CPE, purl: b.Product.Helper.PURL}
			}
			walk(b.Branches, depth+1)
		}
	}
	walk(doc.ProductTree.Branches, 0)
	type rel struct{ component, product string }
	rels := map[string]rel{}
	for _, r := range doc.ProductTree.Relationships {
		rels[r.FullProductName.ID] = rel{r.ProductReference, r.RelatesToReference}
	}
	// resolve names the stream and package of a product status entry.
	resolve := func(id string) (stream, name, version string, source, ok bool) {
		r, found := rels[id]
		if !found {
			return
		}
		stream = RedHatStream(products[r.product].cpe)
		if stream == "" {
			return
		}
		name, version, source = rpmOfPURL(products[r.component].purl)
		if name == "" {
			// Unfixed components have no purl in some documents: the
			// component ID is the (source) package, module streams as
			// "nodejs:18/nodejs".
			name, source = r.component[strings.LastIndexByte(r.component, '/')+1:], true
		}
		return stream, name, version, source, name != "" && len(name) <= maxNameLen
	}

	v := doc.Vulnerabilities[0]
	impact := ""
	for _, t := range v.Threats {
		if t.Category == "impact" {
			impact = truncate(strings.TrimSpace(t.Details), 32)
			break
		}
	}
	if impact == "" {
		impact = truncate(doc.Document.AggregateSeverity.Text, 32)
	}
	remedy := map[string][2]string{}
	for _, rm := range v.Remediations {
		if rm.Category != "no_fix_planned" && rm.Category != "none_available" {
			continue
		}
		for _, id := range rm.ProductIDs {
			remedy[id] = [2]string{rm.Category, truncate(strings.TrimSpace(rm.Details), 128)}
		}
	}
	rec := &Record{ID: "REDHAT-" + v.CVE, Aliases: []string{v.CVE}, Summary: truncate(strings.TrimSpace(v.Title), 1024)}
	for _, d := range []string{doc.Document.Tracking.CurrentReleaseDate, doc.Document.Tracking.InitialReleaseDate} {
		if t, err := time.Parse(time.RFC3339, d); err == nil {
			rec.Modified = t.UTC()
			break
		}
	}
	for _, s := range v.Scores {
		if s.CVSSv3 != nil && strings.HasPrefix(s.CVSSv3.VectorString, "CVSS:3") && len(rec.Severity) == 0 {
			rec.Severity = append(rec.Severity, Severity{Type: "CVSS_V3", Score: truncate(s.CVSSv3.VectorString, 256)})
		}
	}
	rec.References = append(rec.References, Reference{Type: "ADVISORY", URL: "https://access.redhat.com/security/cve/" + strings.ToLower(v.CVE)})
	for _, r := range v.References {
		if r.URL != "" && len(rec.References) < 50 {
			rec.References = append(rec.References, Reference{Type: "WEB", URL: truncate(r.URL, 2048)})
		}
	}
	seen := map[string]bool{}
	addAffected := func(stream, name, fixed, state, reason string, source bool) {
		key := stream + "\x00" + name
		if seen[key] || len(rec.Affected) >= maxAffected {
			return
		}
		seen[key] = true
		ev := []Event{{Introduced: "0"}}
		if fixed != "" {
			ev = append(ev, Event{Fixed: fixed})
		}
		spec := map[string]any{"severity": impact}
		if state != "" {
			spec["fix_state"], spec["fix_state_reason"] = state, reason
		}
		if source {
			spec["source_package"] = true
		}
		b, _ := json.Marshal(spec)
		rec.Affected = append(rec.Affected, Affected{Package: Package{Ecosystem: "Red Hat:" + stream, Name: name},
			Ranges: []Range{{Type: RangeEcosystem, Events: ev}}, DatabaseSpecific: b})
	}
	for _, id := range v.ProductStatus.KnownAffected {
		stream, name, _, source, ok := resolve(id)
		if !ok {
			continue
		}
		state, reason := redHatFixState(remedy[id])
		addAffected(stream, name, "", state, reason, source)
	}
	for _, id := range v.ProductStatus.Fixed {
		stream, name, version, source, ok := resolve(id)
		if !ok || version == "" || source {
			continue
		}
		addAffected(stream, name, version, "", "", false)
	}
	var info *CVEInfo
	for _, id := range v.ProductStatus.KnownNotAffected {
		stream, name, _, _, ok := resolve(id)
		if !ok {
			continue
		}
		if info == nil {
			info = &CVEInfo{ID: v.CVE}
		}
		if len(info.Statuses) < maxAffected {
			info.Statuses = append(info.Statuses, PackageStatus{Ecosystem: "Red Hat:" + stream, Package: name, State: StateNotAffected})
		}
	}
	if len(rec.Affected) == 0 {
		rec = nil
	}
	return rec, info, nil
}

// StateNotAffected is the PackageStatus state of a package its vendor
// declares not affected (Red Hat's known_not_affected, Ubuntu's
// not-affected and DNE): the matcher reports no finding for it.
const StateNotAffected = "not_affected"

// redHatFixState maps a VEX remediation of an affected product to a fix
// state and Red Hat's words.
func redHatFixState(rm [2]string) (state, reason string) {
	category, details := rm[0], rm[1]
	switch {
	case strings.EqualFold(details, "Will not fix"):
		return "will_not_fix", details
	case strings.EqualFold(details, "Out of support scope"):
		return "end_of_life", details
	case strings.EqualFold(details, "Fix deferred"):
		return "fix_deferred", details
	case category == "no_fix_planned":
		return "will_not_fix", details
	}
	if details == "" {
		details = "Affected"
	}
	return "affected", details
}

// RedHatStream turns a Red Hat product CPE into the release part of an
// OSV Red Hat ecosystem: cpe:/o:redhat:enterprise_linux:9 is
// "enterprise_linux:9", cpe:/a:redhat:enterprise_linux:9::appstream is
// "enterprise_linux:9::appstream"; "" for anything else.
func RedHatStream(cpe string) string {
	for _, p := range []string{"cpe:/o:redhat:", "cpe:/a:redhat:"} {
		if rest, ok := strings.CutPrefix(cpe, p); ok && rest != "" && len(rest) <= maxIDLen-len("Red Hat:") {
			return rest
		}
	}
	return ""
}

// rpmOfPURL reads an rpm purl: the package name, its epoch:version-release
// when it has one, and whether it is a source rpm (arch=src) or names a
// component without an architecture.
func rpmOfPURL(purl string) (name, version string, source bool) {
	rest, ok := strings.CutPrefix(purl, "pkg:rpm/")
	if !ok {
		return "", "", false
	}
	rest, qs, _ := strings.Cut(rest, "?")
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	name, version, _ = strings.Cut(rest, "@")
	name, _ = url.PathUnescape(name)
	version, _ = url.PathUnescape(version)
	q, _ := url.ParseQuery(qs)
	arch := q.Get("arch")
	if e := q.Get("epoch"); e != "" && version != "" && e != "0" {
		version = e + ":" + version
	}
	return name, version, arch == "" || arch == "src"
}
