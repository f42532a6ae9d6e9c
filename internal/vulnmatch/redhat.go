package vulnmatch

// Red Hat packages qualified by the image's content sets. Red Hat's
// advisories (OSV's RHSA records, its VEX) name product streams by CPE
// ("enterprise_linux:8::appstream", "rhel_eus:8.6::baseos"); an image's
// content manifests name the repositories its rpms were installed from,
// and Red Hat's repository-to-CPE mapping turns those into the same
// CPEs. With them, a record applies when its stream is one of the
// image's, compared as CPE names are: a field the record leaves empty
// matches any value ("enterprise_linux:8", the VEX product of RHEL 8 as
// a whole, covers "enterprise_linux:8::baseos"), and a version matches
// its minor releases ("enterprise_linux:10" covers "enterprise_linux:10.0").
// Without content sets, or without the mapping, the package's release
// decides (sameRedHatStream).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// RepositorySource is implemented by sources that map Red Hat content
// sets to product CPEs; *vulndb.DB is one.
type RepositorySource interface {
	RepositoryCPEs(repo string) ([]string, error)
	HasRepositoryMapping() bool
}

func isRedHat(ecosystem string) bool {
	return strings.EqualFold(vulndb.BaseEcosystem(ecosystem), "Red Hat")
}

// redHatStreams maps opts.ContentSets to Red Hat streams when pkgs has
// Red Hat packages. Content sets the mapping does not know, or a source
// without a mapping, are warnings: the packages are then matched by
// their release, as without content sets.
func redHatStreams(src Source, pkgs []sbom.Package, opts Options) ([]string, []finding.Problem, error) {
	if len(opts.ContentSets) == 0 || !slices.ContainsFunc(pkgs, func(p sbom.Package) bool { return isRedHat(p.Ecosystem) }) {
		return nil, nil, nil
	}
	subject := ""
	if opts.Object.Name != "" {
		subject = opts.Object.Kind + " " + opts.Object.Name + ": "
	}
	warn := func(format string, args ...any) finding.Problem {
		return finding.Problem{Level: finding.LevelWarning, Message: subject + fmt.Sprintf(format, args...)}
	}
	rs, ok := src.(RepositorySource)
	if !ok || !rs.HasRepositoryMapping() {
		return nil, []finding.Problem{warn("the image names Red Hat content sets (%s) but the vulnerability database has no repository-to-CPE mapping; "+
			"Red Hat packages are matched by their release only (run `%s db update --source redhat-cpe`)", strings.Join(opts.ContentSets, ", "), vulndb.ProgramName(opts.Program))}, nil
	}
	var streams, unknown []string
	for _, cs := range opts.ContentSets {
		cpes, err := rs.RepositoryCPEs(cs)
		if err != nil {
			return nil, nil, err
		}
		if len(cpes) == 0 {
			unknown = append(unknown, cs)
		}
		for _, c := range cpes {
			if st := vulndb.RedHatStream(c); st != "" && !slices.Contains(streams, st) {
				streams = append(streams, st)
			}
		}
	}
	var probs []finding.Problem
	switch {
	case len(streams) == 0:
		probs = append(probs, warn("none of the image's Red Hat content sets (%s) is in the repository-to-CPE mapping; Red Hat packages are matched by their release only",
			strings.Join(opts.ContentSets, ", ")))
	case len(unknown) > 0:
		probs = append(probs, warn("Red Hat content sets not in the repository-to-CPE mapping: %s; the image's packages are matched against the streams of the others (%s)",
			strings.Join(unknown, ", "), strings.Join(streams, ", ")))
	}
	slices.Sort(streams)
	return streams, probs, nil
}

// inRedHatStreams reports whether a record of stream record (the release
// part of its ecosystem: "enterprise_linux:8::appstream") applies to an
// image of the given streams. A record without a stream applies to all.
func inRedHatStreams(record string, streams []string) bool {
	if record == "" {
		return true
	}
	rec := strings.Split(strings.ToLower(record), ":")
	for _, s := range streams {
		if cpeFieldsMatch(rec, strings.Split(strings.ToLower(s), ":")) {
			return true
		}
	}
	return false
}

// cpeFieldsMatch compares the product, version, update and edition
// fields of two Red Hat CPEs (after "cpe:/o:redhat:"): each of the
// record's non-empty fields must equal the stream's, the version also
// matching the stream's minor releases.
func cpeFieldsMatch(rec, stream []string) bool {
	for i, f := range rec {
		if f == "" || f == "*" {
			continue
		}
		s := ""
		if i < len(stream) {
			s = stream[i]
		}
		if f == s || (i == 1 && strings.HasPrefix(s, f+".")) {
			continue
		}
		return false
	}
	return true
}
