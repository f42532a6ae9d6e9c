package catalog

import "testing"

// TestSwiftResolved covers the three Package.resolved versions, pins that
// cannot be matched (skipped) and inputs that must be errors.
func TestSwiftResolved(t *testing.T) {
	checkParser(t, parseSwiftResolved, "Package.resolved", "SwiftURL", "swift", nameVersionPURL, []parseCase{
		{"v1", `{"version":1,"object":{"pins":[{"package":"A","repositoryURL":"https://github.com/a/b.git","state":{"version":"1.0.0"}}]}}`,
			[]string{"github.com/a/b@1.0.0 pkg:swift/github.com/a/b@1.0.0"}, ""},
		{"v2 skips branch and local pins", `{"version":2,"pins":[{"kind":"remoteSourceControl","location":"https://GitHub.com/a/b/","state":{"version":"2.0.0"}},{"kind":"remoteSourceControl","location":"https://github.com/a/c.git","state":{"branch":"main","revision":"x"}},{"kind":"localSourceControl","location":"/src/d","state":{"version":"1.0.0"}}]}`,
			[]string{"github.com/a/b@2.0.0 pkg:swift/github.com/a/b@2.0.0"}, ""},
		{"v3 scp-like location", `{"version":3,"originHash":"x","pins":[{"kind":"remoteSourceControl","location":"git@gitlab.com:g/sub/p.git","state":{"version":"0.1.0"}}]}`,
			[]string{"gitlab.com/g/sub/p@0.1.0 pkg:swift/gitlab.com/g/sub/p@0.1.0"}, ""},
		{"unknown version", `{"version":4,"pins":[]}`, nil, "version 4"},
		{"no version", `{"pins":[]}`, nil, "version 0"},
		{"not a URL", `{"version":2,"pins":[{"kind":"remoteSourceControl","location":"b","state":{"version":"1"}}]}`, nil, "not a repository URL"},
		{"no path", `{"version":2,"pins":[{"kind":"remoteSourceControl","location":"https://github.com/","state":{"version":"1"}}]}`, nil, "no repository path"},
		{"climbing path", `{"version":2,"pins":[{"kind":"remoteSourceControl","location":"https://h/a/../b","state":{"version":"1"}}]}`, nil, "no repository path"},
		{"not json", `pins`, nil, "invalid character"},
	})
}
