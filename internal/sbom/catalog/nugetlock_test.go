package catalog

import "testing"

func TestNuGetLock(t *testing.T) {
	const lock = `{"version": 1, "dependencies": {
  "net8.0": {
    "Newtonsoft.Json": {"type": "Direct", "requested": "[13.0.3, )", "resolved": "13.0.3", "contentHash": "HrC5BXdl"},
    "Microsoft.Extensions.Logging": {"type": "Transitive", "resolved": "8.0.0"},
    "MyLib": {"type": "Project", "dependencies": {"Newtonsoft.Json": "[13.0.3, )"}}
  },
  "net8.0/linux-x64": {
    "Newtonsoft.Json": {"type": "Direct", "requested": "[13.0.3, )", "resolved": "13.0.3"},
    "runtime.native.System": {"type": "Transitive", "resolved": "4.3.0"}
  }}}`
	checkParser(t, parseNuGetLock, "packages.lock.json", "NuGet", "nuget", nameVersionPURL, []parseCase{
		{"frameworks and runtimes", lock, []string{
			"Microsoft.Extensions.Logging@8.0.0 pkg:nuget/Microsoft.Extensions.Logging@8.0.0",
			"Newtonsoft.Json@13.0.3 pkg:nuget/Newtonsoft.Json@13.0.3",
			"runtime.native.System@4.3.0 pkg:nuget/runtime.native.System@4.3.0",
		}, ""},
		{"version 2, central transitive", `{"version":2,"dependencies":{"net6.0":{"Serilog":{"type":"CentralTransitive","requested":"[3.1.1, )","resolved":"3.1.1"}}}}`,
			[]string{"Serilog@3.1.1 pkg:nuget/Serilog@3.1.1"}, ""},
		{"empty", `{"version":1,"dependencies":{}}`, nil, ""},
		{"other JSON", `{"name":"x"}`, nil, "not a NuGet packages.lock.json"},
		{"unresolved", `{"version":1,"dependencies":{"net8.0":{"A":{"type":"Direct"}}}}`, nil, "no name or resolved version"},
		{"truncated", `{"version":1,"dependencies":{"net8.0":{`, nil, "unexpected EOF"},
	})
}
