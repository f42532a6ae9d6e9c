package catalog

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
)

func nameVersionDev(p sbom.Package) string {
	s := p.Name + "@" + p.Version
	if p.Dev {
		s += " dev"
	}
	return s
}

// TestDevDependencies: lock files mark development dependencies as Trivy
// and Syft read them (npm's and pnpm's "dev", Composer's packages-dev,
// Pipfile.lock's develop, poetry's category "dev"); a package that is
// also a product dependency is not dev.
func TestDevDependencies(t *testing.T) {
	checkParser(t, parseNPMLock, "package-lock.json", "npm", "npm", nameVersionDev, []parseCase{
		{"npm v1", `{"lockfileVersion":1,"dependencies":{"jest":{"version":"29.0.0","dev":true,"dependencies":{"ms":{"version":"2.1.3","dev":true}}},"ms":{"version":"2.1.3"},"lodash":{"version":"4.17.21"}}}`,
			[]string{"jest@29.0.0 dev", "ms@2.1.3", "lodash@4.17.21"}, ""},
		{"npm v3", `{"lockfileVersion":3,"packages":{"":{},"node_modules/jest":{"version":"29.0.0","dev":true},"node_modules/jest/node_modules/ms":{"version":"2.1.3","dev":true},"node_modules/ms":{"version":"2.1.3"}}}`,
			[]string{"jest@29.0.0 dev", "ms@2.1.3"}, ""},
	})
	checkParser(t, parsePNPMLock, "pnpm-lock.yaml", "npm", "npm", nameVersionDev, []parseCase{
		{"pnpm v6", "lockfileVersion: '6.0'\npackages:\n  /jest@29.0.0:\n    dev: true\n  /lodash@4.17.21:\n    dev: false\n",
			[]string{"jest@29.0.0 dev", "lodash@4.17.21"}, ""},
	})
	checkParser(t, parseComposerLock, "composer.lock", "Packagist", "composer", nameVersionDev, []parseCase{
		{"composer", `{"packages":[{"name":"twig/twig","version":"v3.4.1"}],"packages-dev":[{"name":"phpunit/phpunit","version":"9.5.20"}]}`,
			[]string{"twig/twig@v3.4.1", "phpunit/phpunit@9.5.20 dev"}, ""},
	})
	checkParser(t, parsePipfileLock, "Pipfile.lock", "PyPI", "pypi", nameVersionDev, []parseCase{
		{"pipfile", `{"_meta":{},"default":{"requests":{"version":"==2.31.0"},"idna":{"version":"==3.4"}},"develop":{"pytest":{"version":"==7.4.0"},"idna":{"version":"==3.4"}}}`,
			[]string{"idna@3.4", "requests@2.31.0", "pytest@7.4.0 dev"}, ""},
	})
	checkParser(t, parsePoetryLock, "poetry.lock", "PyPI", "pypi", nameVersionDev, []parseCase{
		{"poetry 1.1 categories", "[[package]]\nname = \"pytest\"\nversion = \"7.4.0\"\ncategory = \"dev\"\n\n[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\ncategory = \"main\"\n",
			[]string{"pytest@7.4.0 dev", "requests@2.31.0"}, ""},
	})
}
