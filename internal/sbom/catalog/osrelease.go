package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// OS detection reads os-release(5): /etc/os-release, falling back to
// /usr/lib/os-release. Debian's distroless images keep Debian's
// os-release (PRETTY_NAME "Distroless") and record packages in
// var/lib/dpkg/status.d/ instead of var/lib/dpkg/status.

var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

const maxOSReleaseSize = 64 << 10

// WantsOSRelease reports whether OS detection needs the file.
func WantsOSRelease(path string, size int64, mode fs.FileMode) bool {
	if !mode.IsRegular() || size > maxOSReleaseSize {
		return false
	}
	for _, p := range osReleasePaths {
		if path == p {
			return true
		}
	}
	return false
}

// DetectOS returns the OS of fsys, or nil if it has no os-release.
func DetectOS(fsys fs.FS) (*sbom.OS, error) {
	for _, p := range osReleasePaths {
		f, err := fsys.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		osInfo, err := ParseOSRelease(io.LimitReader(f, maxOSReleaseSize))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if osInfo.ID == "" {
			continue
		}
		if osInfo.ID == "debian" {
			osInfo.Distroless = osInfo.PrettyName == "Distroless" || isDistrolessDpkg(fsys)
		}
		return osInfo, nil
	}
	return nil, nil
}

// isDistrolessDpkg reports a dpkg database made only of status.d entries.
func isDistrolessDpkg(fsys fs.FS) bool {
	if _, err := fs.Stat(fsys, "var/lib/dpkg/status"); err == nil {
		return false
	}
	entries, err := fs.ReadDir(fsys, "var/lib/dpkg/status.d")
	return err == nil && len(entries) > 0
}

// ParseOSRelease parses os-release(5) text: KEY=value lines, values
// optionally in double or single quotes with shell-style backslash
// escapes. Unknown keys and malformed lines are ignored, as systemd does.
func ParseOSRelease(r io.Reader) (*sbom.OS, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxOSReleaseSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vars[strings.TrimSpace(k)] = unquoteOSRelease(strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	o := &sbom.OS{
		ID:         strings.ToLower(vars["ID"]),
		VersionID:  vars["VERSION_ID"],
		Name:       vars["NAME"],
		Codename:   vars["VERSION_CODENAME"],
		PrettyName: vars["PRETTY_NAME"],
	}
	if like := strings.Fields(strings.ToLower(vars["ID_LIKE"])); len(like) > 0 {
		o.IDLike = like
	}
	if o.Codename == "" && o.ID == "ubuntu" {
		o.Codename = vars["UBUNTU_CODENAME"]
	}
	return o, nil
}

func unquoteOSRelease(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '\'' {
			return v
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// hasLike reports whether o is id or names it in ID_LIKE.
func hasLike(o *sbom.OS, id string) bool {
	if o == nil {
		return false
	}
	if o.ID == id {
		return true
	}
	for _, l := range o.IDLike {
		if l == id {
			return true
		}
	}
	return false
}

// majorMinor returns "3.20" of "3.20.3", "12" of "12".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// debEcosystem names the OSV ecosystem of a dpkg package on o.
func debEcosystem(o *sbom.OS) (ecosystem, vendor, distro string) {
	switch {
	case o != nil && o.ID == "ubuntu":
		return withRelease(sbom.EcosystemUbuntu, o.VersionID), "ubuntu", "ubuntu-" + o.VersionID
	case o != nil && o.ID == "debian":
		return withRelease(sbom.EcosystemDebian, major(o.VersionID)), "debian", distroQualifier("debian", o.VersionID)
	case hasLike(o, "ubuntu"):
		return sbom.EcosystemUbuntu, "ubuntu", ""
	default:
		return sbom.EcosystemDebian, "debian", ""
	}
}

// apkEcosystem names the OSV ecosystem of an apk package on o.
func apkEcosystem(o *sbom.OS) (ecosystem, vendor, distro string) {
	switch {
	case o != nil && o.ID == "wolfi":
		return sbom.EcosystemWolfi, "wolfi", ""
	case o != nil && o.ID == "chainguard":
		return sbom.EcosystemChainguard, "chainguard", ""
	case o != nil && o.ID == "alpine" && o.VersionID != "":
		return sbom.EcosystemAlpine + ":v" + majorMinor(o.VersionID), "alpine", "alpine-" + o.VersionID
	default:
		return sbom.EcosystemAlpine, "alpine", ""
	}
}

// rpmEcosystem names the OSV ecosystem and purl namespace of an rpm
// package on o. Red Hat's OSV ecosystem is qualified by CPE product
// streams ("Red Hat:enterprise_linux:9::baseos") that an image does not
// record, and SUSE's by product names, so both stay unqualified.
func rpmEcosystem(o *sbom.OS) (ecosystem, vendor, distro string) {
	if o == nil {
		return sbom.EcosystemRedHat, "redhat", ""
	}
	distro = distroQualifier(o.ID, o.VersionID)
	switch {
	case o.ID == "rocky":
		return withRelease(sbom.EcosystemRockyLinux, major(o.VersionID)), "rocky", distro
	case o.ID == "almalinux":
		return withRelease(sbom.EcosystemAlmaLinux, major(o.VersionID)), "almalinux", distro
	case o.ID == "fedora":
		return withRelease(sbom.EcosystemFedora, o.VersionID), "fedora", distro
	case o.ID == "amzn":
		return withRelease(sbom.EcosystemAmazon, o.VersionID), "amazon", distro
	case o.ID == "mariner" || o.ID == "azurelinux":
		return withRelease(sbom.EcosystemMariner, o.VersionID), o.ID, distro
	case o.ID == "ol":
		return withRelease(sbom.EcosystemOracle, major(o.VersionID)), "oracle", distro
	case o.ID == "photon":
		return withRelease(sbom.EcosystemPhoton, o.VersionID), "photon", distro
	case strings.HasPrefix(o.ID, "opensuse"):
		return sbom.EcosystemOpenSUSE, "opensuse", distro
	case o.ID == "sles" || strings.HasPrefix(o.ID, "sle") || hasLike(o, "suse"):
		return sbom.EcosystemSUSE, "suse", distro
	case o.ID == "centos":
		return sbom.EcosystemRedHat, "centos", distro
	default:
		return sbom.EcosystemRedHat, "redhat", distro
	}
}

func withRelease(eco, release string) string {
	if release == "" {
		return eco
	}
	return eco + ":" + release
}

func distroQualifier(id, version string) string {
	if id == "" {
		return ""
	}
	if version == "" {
		return id
	}
	return id + "-" + version
}
