package vulnmatch

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// OpenVEX statuses (https://github.com/openvex/spec).
const (
	VEXNotAffected        = "not_affected"
	VEXAffected           = "affected"
	VEXFixed              = "fixed"
	VEXUnderInvestigation = "under_investigation"
)

// maxVEXSize caps an OpenVEX document.
const maxVEXSize = 32 << 20

// VEX is a set of OpenVEX statements from one or more documents. A finding
// is suppressed when the last statement that applies to it (by timestamp,
// then document order) says not_affected or fixed.
type VEX struct {
	statements []vexStatement
}

type vexStatement struct {
	file          string
	vulnerability []string // name and aliases
	products      []vexProduct
	status        string
	justification string
	impact        string
	timestamp     time.Time
	order         int
}

type vexProduct struct {
	id            string
	subcomponents []string
}

// vexDocument is OpenVEX JSON, v0.2.0, accepting v0.0.1's string forms of
// vulnerability and products.
type vexDocument struct {
	Context    string `json:"@context"`
	Timestamp  string `json:"timestamp"`
	Statements []struct {
		Vulnerability   json.RawMessage `json:"vulnerability"`
		Products        json.RawMessage `json:"products"`
		Status          string          `json:"status"`
		Justification   string          `json:"justification"`
		ImpactStatement string          `json:"impact_statement"`
		Timestamp       string          `json:"timestamp"`
	} `json:"statements"`
}

// LoadVEX reads OpenVEX documents from files.
func LoadVEX(files ...string) (*VEX, error) {
	v := &VEX{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("VEX: %w", err)
		}
		err = v.Add(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Add reads one OpenVEX document; name identifies it in errors.
func (v *VEX) Add(name string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxVEXSize+1))
	if err != nil {
		return fmt.Errorf("VEX %s: %w", name, err)
	}
	if len(data) > maxVEXSize {
		return fmt.Errorf("VEX %s: larger than %d bytes", name, maxVEXSize)
	}
	var doc vexDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("VEX %s: %w", name, err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return fmt.Errorf("VEX %s: @context %q is not OpenVEX", name, doc.Context)
	}
	docTime := parseVEXTime(doc.Timestamp)
	for i, s := range doc.Statements {
		st := vexStatement{file: name, status: s.Status, justification: s.Justification, impact: s.ImpactStatement,
			timestamp: docTime, order: len(v.statements)}
		if t := parseVEXTime(s.Timestamp); !t.IsZero() {
			st.timestamp = t
		}
		switch s.Status {
		case VEXNotAffected, VEXAffected, VEXFixed, VEXUnderInvestigation:
		default:
			return fmt.Errorf("VEX %s: statement %d: unknown status %q", name, i, s.Status)
		}
		if st.vulnerability, err = vexVulnerability(s.Vulnerability); err != nil {
			return fmt.Errorf("VEX %s: statement %d: vulnerability: %w", name, i, err)
		}
		if st.products, err = vexProducts(s.Products); err != nil {
			return fmt.Errorf("VEX %s: statement %d: products: %w", name, i, err)
		}
		if len(st.products) == 0 {
			return fmt.Errorf("VEX %s: statement %d: no products", name, i)
		}
		v.statements = append(v.statements, st)
	}
	sort.SliceStable(v.statements, func(i, j int) bool { return v.statements[i].timestamp.Before(v.statements[j].timestamp) })
	return nil
}

func parseVEXTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func vexVulnerability(raw json.RawMessage) ([]string, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil && name != "" {
		return []string{name}, nil
	}
	var obj struct {
		ID      string   `json:"@id"`
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if obj.Name == "" {
		return nil, fmt.Errorf("no name")
	}
	return append([]string{obj.Name}, obj.Aliases...), nil
}

func vexProducts(raw json.RawMessage) ([]vexProduct, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	var out []vexProduct
	for _, it := range items {
		var id string
		if json.Unmarshal(it, &id) == nil {
			out = append(out, vexProduct{id: id})
			continue
		}
		var obj struct {
			ID            string `json:"@id"`
			Identifiers   map[string]string
			Subcomponents []struct {
				ID          string            `json:"@id"`
				Identifiers map[string]string `json:"identifiers"`
			} `json:"subcomponents"`
		}
		if err := json.Unmarshal(it, &obj); err != nil {
			return nil, err
		}
		p := vexProduct{id: obj.ID}
		if p.id == "" {
			p.id = obj.Identifiers["purl"]
		}
		for _, sc := range obj.Subcomponents {
			id := sc.ID
			if id == "" {
				id = sc.Identifiers["purl"]
			}
			p.subcomponents = append(p.subcomponents, id)
		}
		out = append(out, p)
	}
	return out, nil
}

// apply marks f suppressed if the last statement about its vulnerability
// and package says not_affected or fixed.
func (v *VEX) apply(f *finding.Finding, p *sbom.Package, artifacts []string) {
	ids := append([]string{f.RuleID}, f.Vulnerability.Aliases...)
	var last *vexStatement
	for i := range v.statements {
		s := &v.statements[i]
		if !overlaps(s.vulnerability, ids) || !s.covers(p, artifacts) {
			continue
		}
		last = s
	}
	if last == nil || (last.status != VEXNotAffected && last.status != VEXFixed) {
		return
	}
	reason := last.status
	if last.justification != "" {
		reason += ": " + last.justification
	}
	if last.impact != "" {
		reason += ": " + last.impact
	}
	f.Suppressed = true
	f.Suppression = &finding.Suppression{Kind: "vex", Reason: reason + " (" + last.file + ")"}
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// covers reports whether a statement is about the package: a product (or a
// subcomponent of the scanned artifact) names it by Package URL.
func (s *vexStatement) covers(p *sbom.Package, artifacts []string) bool {
	for _, prod := range s.products {
		if purlMatches(prod.id, p) {
			return true
		}
		isArtifact := false
		for _, a := range artifacts {
			isArtifact = isArtifact || (a != "" && (prod.id == a || purlBase(prod.id) == purlBase(a) && strings.HasPrefix(a, "pkg:")))
		}
		if !isArtifact {
			continue
		}
		if len(prod.subcomponents) == 0 {
			return true
		}
		for _, sc := range prod.subcomponents {
			if purlMatches(sc, p) {
				return true
			}
		}
	}
	return false
}

// purlMatches compares a statement's product identifier with a package: the
// same type, namespace and name, and the same version when the identifier
// has one. Qualifiers and subpaths are ignored.
func purlMatches(id string, p *sbom.Package) bool {
	if !strings.HasPrefix(id, "pkg:") {
		return false
	}
	pkgPURL := p.PURL
	if pkgPURL == "" {
		if p.Type == "" {
			return false
		}
		pkgPURL = "pkg:" + p.Type + "/" + p.Name + "@" + p.Version
	}
	idBase, idVer := splitPURLVersion(purlBase(id))
	pBase, pVer := splitPURLVersion(purlBase(pkgPURL))
	if !strings.EqualFold(idBase, pBase) {
		// A PURL built without a namespace still matches by type and name.
		if p.PURL != "" || !strings.EqualFold(purlTypeName(idBase), purlTypeName(pBase)) {
			return false
		}
	}
	return idVer == "" || idVer == pVer || unescape(idVer) == unescape(pVer)
}

// purlBase drops qualifiers and subpath.
func purlBase(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

func splitPURLVersion(s string) (string, string) {
	if i := strings.LastIndex(s, "@"); i > strings.LastIndex(s, "/") {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// purlTypeName is "pkg:type/name" without namespace.
func purlTypeName(base string) string {
	typ, _, _ := strings.Cut(base, "/")
	return typ + "/" + base[strings.LastIndex(base, "/")+1:]
}

func unescape(s string) string {
	return strings.NewReplacer("%2B", "+", "%2b", "+", "%3A", ":", "%3a", ":", "%7E", "~", "%7e", "~").Replace(s)
}
