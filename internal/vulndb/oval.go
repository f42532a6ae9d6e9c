package vulndb

// OVAL definitions (OVAL 5 language, https://oval.mitre.org/language/)
// as Oracle publishes its ELSA advisories
// (https://linux.oracle.com/security/oval/, com.oracle.elsa-*.xml.bz2) and
// Microsoft its Azure Linux and CBL-Mariner advisories
// (github.com/microsoft/AzureLinuxVulnerabilityData, one file per
// release). A definition's criteria name rpminfo tests; each test pairs
// an object (the package name) with a state (an evr "less than" the
// fixed epoch:version-release, or "less than or equal" the last affected
// one when no fix exists). Each definition becomes an OSV record of the
// release's ecosystem ("Oracle Linux:9", "Mariner:2.0") with its CVE
// references as aliases and the vendor's severity.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// FormatOVAL is OVAL definitions of rpm advisories (Oracle Linux's ELSA,
// Azure Linux/CBL-Mariner's).
const FormatOVAL = "oval"

// ovalEcosystem reads the distribution of an OVAL source from its name:
// "oval-oracle" (the release comes from each definition's platform),
// "oval-mariner-2.0", "oval-azurelinux-3.0".
func ovalEcosystem(name string) (eco string, err error) {
	n := strings.ToLower(strings.TrimLeft(strings.TrimPrefix(strings.ToLower(name), FormatOVAL), "-_:"))
	switch {
	case n == "oracle" || n == "ol" || n == "elsa":
		return "Oracle Linux", nil
	case strings.HasPrefix(n, "mariner-"), strings.HasPrefix(n, "azurelinux-"), strings.HasPrefix(n, "cbl-mariner-"):
		rel := n[strings.LastIndexByte(n, '-')+1:]
		if rel != "" && strings.Trim(rel, "0123456789.") == "" {
			// Azure Linux 3 and CBL-Mariner 1 and 2 images say "mariner"
			// or "azurelinux" in os-release; the catalogers name both
			// Mariner.
			return "Mariner:" + rel, nil
		}
	}
	return "", fmt.Errorf("OVAL source %q: name it oval-oracle, oval-mariner-2.0 or oval-azurelinux-3.0 to say whose advisories it holds", name)
}

type ovalDefinition struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Metadata struct {
		Title      string   `xml:"title"`
		Platforms  []string `xml:"affected>platform"`
		References []struct {
			Source string `xml:"source,attr"`
			RefID  string `xml:"ref_id,attr"`
			URL    string `xml:"ref_url,attr"`
		} `xml:"reference"`
		Description string `xml:"description"`
		Severity    string `xml:"severity"`
		Patchable   string `xml:"patchable"`
		AdvisoryID  string `xml:"advisory_id"`
		Advisory    struct {
			Severity string `xml:"severity"`
			Issued   struct {
				Date string `xml:"date,attr"`
			} `xml:"issued"`
		} `xml:"advisory"`
	} `xml:"metadata"`
	Criteria ovalCriteria `xml:"criteria"`
}

type ovalCriteria struct {
	Criteria  []ovalCriteria `xml:"criteria"`
	Criterion []struct {
		TestRef string `xml:"test_ref,attr"`
		Comment string `xml:"comment,attr"`
	} `xml:"criterion"`
}

type ovalTest struct {
	ID     string `xml:"id,attr"`
	Object struct {
		Ref string `xml:"object_ref,attr"`
	} `xml:"object"`
	States []struct {
		Ref string `xml:"state_ref,attr"`
	} `xml:"state"`
}

type ovalObject struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name"`
}

type ovalState struct {
	ID  string `xml:"id,attr"`
	EVR *struct {
		Operation string `xml:"operation,attr"`
		Value     string `xml:",chardata"`
	} `xml:"evr"`
}

// Limits of an OVAL file: Oracle's whole ELSA history is the largest, a
// few hundred thousand tests.
const maxOVALItems = 4_000_000

var oracleRelease = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Oracle Linux (\d+)`) })

// readOVAL reads OVAL files (plain, gzip or bzip2, a directory or an
// archive of them).
func readOVAL(ctx context.Context, path, name string, add func(*Record) error) (readStats, error) {
	var st readStats
	eco, err := ovalEcosystem(name)
	if err != nil {
		return st, err
	}
	err = forEachDocument(ctx, path, func(n string) bool { return strings.Contains(n, ".xml") }, func(doc string, r io.Reader) error {
		recs, err := parseOVAL(ctx, r, eco, &st)
		if err != nil {
			return fmt.Errorf("%s: %w", doc, err)
		}
		for _, rec := range recs {
			if err := st.emit(rec, add); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// parseOVAL reads one OVAL document. Definitions are kept until the tests,
// objects and states they refer to (which follow them) are read.
func parseOVAL(ctx context.Context, r io.Reader, eco string, st *readStats) ([]*Record, error) {
	dec := xml.NewDecoder(r)
	var defs []ovalDefinition
	tests := map[string]ovalTest{}
	objects := map[string]string{}
	states := map[string][2]string{}
	items, root := 0, false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("OVAL: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if items++; items > maxOVALItems {
			return nil, fmt.Errorf("OVAL: more than %d elements", maxOVALItems)
		}
		switch se.Name.Local {
		case "oval_definitions":
			root = true
		case "definitions", "tests", "objects", "states", "metadata":
		case "definition":
			var d ovalDefinition
			if err := dec.DecodeElement(&d, &se); err != nil {
				return nil, fmt.Errorf("OVAL: definition: %w", err)
			}
			defs = append(defs, d)
		case "rpminfo_test":
			var t ovalTest
			if err := dec.DecodeElement(&t, &se); err != nil {
				return nil, fmt.Errorf("OVAL: test: %w", err)
			}
			tests[t.ID] = t
		case "rpminfo_object":
			var o ovalObject
			if err := dec.DecodeElement(&o, &se); err != nil {
				return nil, fmt.Errorf("OVAL: object: %w", err)
			}
			objects[o.ID] = strings.TrimSpace(o.Name)
		case "rpminfo_state":
			var s ovalState
			if err := dec.DecodeElement(&s, &se); err != nil {
				return nil, fmt.Errorf("OVAL: state: %w", err)
			}
			if s.EVR != nil {
				states[s.ID] = [2]string{s.EVR.Operation, strings.TrimSpace(s.EVR.Value)}
			}
		default:
			if root {
				if err := dec.Skip(); err != nil {
					return nil, fmt.Errorf("OVAL: %w", err)
				}
			}
		}
	}
	if !root {
		return nil, errors.New("OVAL: no <oval_definitions> element")
	}
	var out []*Record
	for i := range defs {
		rec, err := ovalRecord(&defs[i], eco, tests, objects, states)
		if err != nil {
			st.skip(truncate(defs[i].ID, 80), err)
			continue
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// ovalRecord converts one definition; nil for one without packages
// (inventory and compliance classes).
func ovalRecord(d *ovalDefinition, eco string, tests map[string]ovalTest, objects map[string]string, states map[string][2]string) (*Record, error) {
	if d.Class != "" && d.Class != "patch" && d.Class != "vulnerability" {
		return nil, nil
	}
	m := &d.Metadata
	// The release: the catalogers' "Oracle Linux:9" from the platform or
	// the "Oracle Linux 9 is installed" criterion; the source names
	// Mariner's.
	var comments []string
	var refs []string
	var walk func(c *ovalCriteria, depth int)
	walk = func(c *ovalCriteria, depth int) {
		if depth > 32 {
			return
		}
		for _, cr := range c.Criterion {
			comments = append(comments, cr.Comment)
			refs = append(refs, cr.TestRef)
		}
		for i := range c.Criteria {
			walk(&c.Criteria[i], depth+1)
		}
	}
	walk(&d.Criteria, 0)
	ecosystem := eco
	if eco == "Oracle Linux" {
		for _, s := range append(append([]string(nil), m.Platforms...), comments...) {
			if mm := oracleRelease().FindStringSubmatch(s); mm != nil {
				ecosystem = eco + ":" + mm[1]
				break
			}
		}
		if ecosystem == eco {
			return nil, errors.New("no Oracle Linux release in the platform or criteria")
		}
	}
	rec := &Record{Summary: truncate(strings.TrimSpace(m.Title), 1024), Details: truncate(strings.TrimSpace(m.Description), 64<<10)}
	for _, ref := range m.References {
		switch {
		case strings.EqualFold(ref.Source, "CVE") && IsCVE(ref.RefID):
			if len(rec.Aliases) < maxAliases {
				rec.Aliases = append(rec.Aliases, ref.RefID)
			}
		case rec.ID == "" && ref.RefID != "" && !strings.EqualFold(ref.Source, "CVE"):
			rec.ID = strings.TrimSpace(ref.RefID) // ELSA-2024-0727
		}
		if ref.URL != "" && len(rec.References) < maxReferences {
			rec.References = append(rec.References, Reference{Type: "WEB", URL: truncate(ref.URL, 2048)})
		}
	}
	if rec.ID == "" {
		// Mariner: a definition per CVE and package.
		num := d.ID[strings.LastIndexByte(d.ID, ':')+1:]
		if m.AdvisoryID != "" {
			num = strings.TrimSpace(m.AdvisoryID)
		}
		rec.ID = strings.ToUpper(strings.ReplaceAll(ecosystem, ":", "-")) + "-" + num
	}
	if err := validID(rec.ID); err != nil {
		return nil, err
	}
	if t, err := time.Parse(time.DateOnly, strings.TrimSpace(m.Advisory.Issued.Date)); err == nil {
		rec.Modified = t.UTC()
		rec.Published = &t
	}
	severity := strings.TrimSpace(m.Advisory.Severity)
	if severity == "" {
		severity = strings.TrimSpace(m.Severity)
	}
	spec := map[string]string{"severity": truncate(severity, 32)}
	seen := map[string]bool{}
	for _, ref := range refs {
		t, ok := tests[ref]
		if !ok {
			continue
		}
		name := objects[t.Object.Ref]
		if name == "" || seen[name] || len(rec.Affected) >= maxAffected {
			continue
		}
		var ev []Event
		for _, s := range t.States {
			op, evr := states[s.Ref][0], states[s.Ref][1]
			if evr == "" {
				continue
			}
			evr = strings.TrimPrefix(evr, "0:")
			switch op {
			case "less than":
				ev = []Event{{Introduced: "0"}, {Fixed: evr}}
			case "less than or equal":
				ev = []Event{{Introduced: "0"}, {LastAffected: evr}}
			}
		}
		if ev == nil {
			continue
		}
		seen[name] = true
		s := spec
		if ev[1].Fixed == "" || strings.EqualFold(m.Patchable, "false") {
			s = map[string]string{"severity": spec["severity"], "fix_state": "affected", "fix_state_reason": "no patch available"}
		}
		b, _ := json.Marshal(s)
		rec.Affected = append(rec.Affected, Affected{Package: Package{Ecosystem: ecosystem, Name: name},
			Ranges: []Range{{Type: RangeEcosystem, Events: ev}}, DatabaseSpecific: b})
	}
	if len(rec.Affected) == 0 {
		return nil, nil
	}
	return rec, nil
}
