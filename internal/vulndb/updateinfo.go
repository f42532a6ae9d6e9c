package vulndb

// Amazon Linux Security Advisories (ALAS) are published in the yum
// repositories' updateinfo.xml (repodata/updateinfo.xml.gz of the core
// repository, https://alas.aws.amazon.com): one <update> per advisory,
// with its severity, its CVEs and the fixed packages by epoch, version
// and release. Each becomes an OSV record of the ecosystem
// "Amazon Linux:<release>", so matching and storage stay one model.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// FormatALAS is Amazon Linux's updateinfo.xml.
const FormatALAS = "alas"

// alasEcosystem returns the OSV-style ecosystem of an ALAS source name:
// "alas-2" and "alas2" are Amazon Linux 2, "alas-2023" Amazon Linux 2023,
// "alas-1" or "alas" the original Amazon Linux AMI (release 1).
func alasEcosystem(name string) (string, error) {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, FormatALAS)
	n = strings.TrimLeft(n, "-_:")
	switch {
	case n == "" || n == "1":
		return "Amazon Linux:1", nil
	case n == "2" || n == "2023" || (len(n) == 4 && strings.Trim(n, "0123456789") == ""):
		return "Amazon Linux:" + n, nil
	}
	return "", fmt.Errorf("ALAS source %q: name it alas-2 or alas-2023 to say which Amazon Linux release it is", name)
}

type updateinfo struct {
	ID          string `xml:"id"`
	Type        string `xml:"type,attr"`
	Title       string `xml:"title"`
	Severity    string `xml:"severity"`
	Description string `xml:"description"`
	Issued      struct {
		Date string `xml:"date,attr"`
	} `xml:"issued"`
	Updated struct {
		Date string `xml:"date,attr"`
	} `xml:"updated"`
	References []struct {
		Href string `xml:"href,attr"`
		ID   string `xml:"id,attr"`
		Type string `xml:"type,attr"`
	} `xml:"references>reference"`
	Packages []struct {
		Name    string `xml:"name,attr"`
		Epoch   string `xml:"epoch,attr"`
		Version string `xml:"version,attr"`
		Release string `xml:"release,attr"`
	} `xml:"pkglist>collection>package"`
}

// readUpdateInfo streams <update> elements and turns each into an OSV
// record of ecosystem.
func readUpdateInfo(ctx context.Context, r io.Reader, ecosystem string, st *readStats, fn func(*Record) error) error {
	dec := xml.NewDecoder(io.LimitReader(r, DefaultMaxDownload))
	seenRoot := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !seenRoot {
				return errors.New("updateinfo.xml: no <updates> element")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("updateinfo.xml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "updates":
			seenRoot = true
			continue
		case "update":
		default:
			if err := dec.Skip(); err != nil {
				return fmt.Errorf("updateinfo.xml: %w", err)
			}
			continue
		}
		var u updateinfo
		if err := dec.DecodeElement(&u, &se); err != nil {
			return fmt.Errorf("updateinfo.xml: update: %w", err)
		}
		if dec.InputOffset() > DefaultMaxDownload {
			return errors.New("updateinfo.xml: too large")
		}
		rec, err := u.record(ecosystem)
		if err != nil {
			st.skip(truncate(u.ID, 64), err)
			continue
		}
		if rec == nil {
			continue
		}
		if err := st.emit(rec, fn); err != nil {
			return err
		}
	}
}

// record converts an advisory; non-security updates give nil.
func (u *updateinfo) record(ecosystem string) (*Record, error) {
	if u.Type != "" && u.Type != "security" {
		return nil, nil
	}
	id := strings.TrimSpace(u.ID)
	if err := validID(id); err != nil {
		return nil, err
	}
	rec := &Record{ID: id, Summary: truncate(strings.TrimSpace(u.Title), 1024), Details: truncate(strings.TrimSpace(u.Description), 64<<10)}
	for _, d := range []struct {
		s   string
		set func(time.Time)
	}{
		{u.Issued.Date, func(t time.Time) { rec.Published = &t }},
		{u.Updated.Date, func(t time.Time) { rec.Modified = t }},
	} {
		if t, err := time.Parse(time.DateTime, strings.TrimSpace(d.s)); err == nil {
			d.set(t.UTC())
		}
	}
	if rec.Modified.IsZero() && rec.Published != nil {
		rec.Modified = *rec.Published
	}
	for _, ref := range u.References {
		if ref.Type == "cve" && IsCVE(ref.ID) && len(rec.Aliases) < maxAliases {
			rec.Aliases = append(rec.Aliases, ref.ID)
		}
		if ref.Href != "" && len(rec.References) < maxReferences {
			rec.References = append(rec.References, Reference{Type: "WEB", URL: truncate(ref.Href, 2048)})
		}
	}
	specific, _ := json.Marshal(map[string]string{"severity": truncate(strings.TrimSpace(u.Severity), 32)})
	seen := map[string]bool{}
	for _, p := range u.Packages {
		if p.Name == "" || p.Version == "" || seen[p.Name] || len(rec.Affected) >= maxAffected {
			continue
		}
		seen[p.Name] = true
		fixed := p.Version
		if p.Release != "" {
			fixed += "-" + p.Release
		}
		if p.Epoch != "" && p.Epoch != "0" {
			fixed = p.Epoch + ":" + fixed
		}
		rec.Affected = append(rec.Affected, Affected{
			Package:          Package{Ecosystem: ecosystem, Name: p.Name},
			Ranges:           []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: fixed}}}},
			DatabaseSpecific: specific,
		})
	}
	if len(rec.Affected) == 0 {
		return nil, errors.New("no packages")
	}
	return rec, nil
}

// readALAS reads an updateinfo.xml (plain or gzip-compressed, as the
// repositories serve it) or a directory of them.
func readALAS(ctx context.Context, path, name string, fn func(*Record) error) (readStats, error) {
	var st readStats
	eco, err := alasEcosystem(name)
	if err != nil {
		return st, err
	}
	err = readSourceFiles(path, func(r io.Reader) error { return readUpdateInfo(ctx, r, eco, &st, fn) })
	return st, err
}

// isEnrichment reports whether a format enriches CVEs rather than
// carrying advisories.
func isEnrichment(format string) bool {
	switch format {
	case "", FormatOSV, FormatALAS, FormatRedHatVEX, FormatOVAL, FormatPhoton, FormatBodhi, FormatRedHatCPE:
		return false
	}
	return true
}

// carriesCVEs reports whether an advisory format also says things of
// CVEs (Red Hat's VEX: the streams not affected).
func carriesCVEs(format string) bool { return format == FormatRedHatVEX }
