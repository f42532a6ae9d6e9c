package catalog

import "testing"

func TestConanLock(t *testing.T) {
	const v2 = `{"version": "0.5",
 "requires": ["zlib/1.3#06023034579559bb64357db3a53f88a4%1694785227.213", "openssl/3.2.0@mycompany/stable#8f9a", "zlib/1.3#06023034579559bb64357db3a53f88a4%1694785227.213"],
 "build_requires": ["cmake/3.28.1#aaaa%1702998430.0"],
 "python_requires": []}`
	const v1 = `{"graph_lock": {"nodes": {
   "0": {"options": "", "path": "conanfile.txt"},
   "1": {"ref": "zlib/1.2.11#3b4b9a4a1a0e1f1e2c1d0c4a3f1b2a9d", "options": "shared=False"},
   "2": {"ref": "boost/1.83.0@_/_#abcd:0123"}}},
 "version": "0.4"}`
	checkParser(t, parseConanLock, "conan.lock", "ConanCenter", "conan", nameVersionPURL, []parseCase{
		{"conan 2", v2, []string{"zlib@1.3 pkg:conan/zlib@1.3", "openssl@3.2.0 pkg:conan/openssl@3.2.0?channel=stable&user=mycompany", "cmake@3.28.1 pkg:conan/cmake@3.28.1"}, ""},
		{"conan 1", v1, []string{"zlib@1.2.11 pkg:conan/zlib@1.2.11", "boost@1.83.0 pkg:conan/boost@1.83.0"}, ""},
		{"other JSON", `{"requires":["a/1"]}`, nil, "not a conan.lock"},
		{"bad reference", `{"version":"0.5","requires":["zlib"]}`, nil, "not name/version"},
	})
}
