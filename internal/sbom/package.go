// Package sbom defines the software packages found in an image or file
// system, the catalogers that find them, and the SBOM formats that carry
// them (CycloneDX, SPDX).
package sbom

// Ecosystem names follow OSV's ecosystem names, so a package can be
// matched against OSV records without translation.
const (
	EcosystemDebian = "Debian"
	EcosystemUbuntu = "Ubuntu"
	EcosystemAlpine = "Alpine"
	EcosystemRedHat = "Red Hat"
	EcosystemGo     = "Go"
	EcosystemPyPI   = "PyPI"
	EcosystemNPM    = "npm"
	EcosystemMaven  = "Maven"
	// EcosystemPackagist is PHP Composer's registry (purl type composer).
	EcosystemPackagist = "Packagist"
	// EcosystemRubyGems is Ruby's gems (purl type gem).
	EcosystemRubyGems = "RubyGems"
	// EcosystemNuGet is .NET's packages (purl type nuget).
	EcosystemNuGet = "NuGet"
	// EcosystemSwiftURL is Swift packages named by repository URL (purl type swift).
	EcosystemSwiftURL = "SwiftURL"
	// EcosystemPub is Dart's packages of pub.dev (purl type pub).
	EcosystemPub = "Pub"
	// EcosystemCrates is Rust's registry (purl type cargo).
	EcosystemCrates = "crates.io"
	// EcosystemHex is Erlang's and Elixir's registry (purl type hex).
	EcosystemHex = "Hex"
	// EcosystemConan is C and C++ packages of Conan (purl type conan);
	// OSV names ConanCenter, the public remote.
	EcosystemConan = "ConanCenter"

	// Language runtimes and libraries found as binaries, with the version
	// their build embeds (purl type generic). OSV has no ecosystem for
	// them; advisories come from NVD's CPE configurations under the same
	// names.
	EcosystemNodeJS  = "Node.js"
	EcosystemCPython = "CPython"
	EcosystemOpenJDK = "OpenJDK"
	EcosystemOpenSSL = "OpenSSL"

	// Further OS ecosystems. OSV names the first five and Chainguard;
	// Fedora, Amazon Linux, CBL-Mariner, Oracle Linux and Photon OS have
	// no OSV ecosystem of their own, so their packages carry these
	// descriptive names, matched by advisories imported in the vendors'
	// formats (Amazon's ALAS) under the same names.
	EcosystemRockyLinux = "Rocky Linux"
	EcosystemAlmaLinux  = "AlmaLinux"
	EcosystemSUSE       = "SUSE"
	EcosystemOpenSUSE   = "openSUSE"
	EcosystemWolfi      = "Wolfi"
	EcosystemFedora     = "Fedora"
	EcosystemAmazon     = "Amazon Linux"
	EcosystemMariner    = "Mariner"
	EcosystemChainguard = "Chainguard"
	EcosystemOracle     = "Oracle Linux"
	EcosystemPhoton     = "Photon OS"
)

// Package is one installed software package.
type Package struct {
	// Name and Version as the package manager records them.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem ("Debian", "Alpine", "Go", "PyPI" ...);
	// for OS packages it may carry the release ("Debian:12", "Alpine:v3.20").
	Ecosystem string `json:"ecosystem"`
	// Type is the package type of Package URLs: deb, apk, rpm, golang, pypi, npm, maven.
	Type string `json:"type"`
	// PURL is the Package URL (https://github.com/package-url/purl-spec).
	PURL string `json:"purl,omitempty"`
	// SourceName and SourceVersion name the source package (dpkg Source:,
	// apk origin, rpm source RPM); advisories of Debian, Ubuntu and Alpine
	// are written against it.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	Arch          string `json:"arch,omitempty"`
	// Platform is the GOOS/GOARCH a Go binary was built for
	// ("linux/amd64"), from its build information: Go advisories whose
	// affected packages exist only on other platforms do not apply.
	Platform string `json:"platform,omitempty"`
	// GoSymbols are the functions a Go binary links, as "import/path.Func"
	// and "import/path.Type.Method", and each linked package's bare
	// "import/path", read from its pclntab; the matcher
	// decides from them whether an advisory's vulnerable symbols are
	// reachable. nil means the table was not read (stripped PE binary, too
	// large, unreadable): reachability is then unknown. Not part of the
	// SBOM output.
	GoSymbols map[string]struct{} `json:"-"`
	Licenses  []string            `json:"licenses,omitempty"`
	// Locations are the files that record the package (the dpkg status
	// file, a binary, a package.json).
	Locations []string `json:"locations,omitempty"`
	// Dev marks a development dependency of a source repository's lock
	// file (npm's and pnpm's "dev", Composer's packages-dev, Pipfile.lock's
	// develop, poetry's category "dev"), as Trivy and Syft mark them; a
	// package that is also a dependency of the product is not Dev.
	Dev bool `json:"dev,omitempty"`
	// LayerDigest is the image layer that introduced the package, when the
	// package comes from an image.
	LayerDigest string `json:"layerDigest,omitempty"`
	// Cataloger names the cataloger that found the package.
	Cataloger string `json:"cataloger"`
}

// OS describes the operating system of an image, from /etc/os-release.
type OS struct {
	// ID is os-release's ID (debian, ubuntu, alpine, rhel, fedora, sles,
	// amzn ...); "distroless" images keep Debian's.
	ID        string `json:"id"`
	VersionID string `json:"versionID,omitempty"`
	Name      string `json:"name,omitempty"`
	// Codename is VERSION_CODENAME (bookworm, jammy).
	Codename string `json:"codename,omitempty"`
	// IDLike is ID_LIKE's list (rocky: "rhel centos fedora").
	IDLike []string `json:"idLike,omitempty"`
	// PrettyName is PRETTY_NAME ("Distroless" for Google's distroless).
	PrettyName string `json:"prettyName,omitempty"`
	// Distroless is set for Debian-based distroless images: their
	// os-release is Debian's but dpkg's database is status.d/, one file
	// per package, and there is no package manager.
	Distroless bool `json:"distroless,omitempty"`
}
