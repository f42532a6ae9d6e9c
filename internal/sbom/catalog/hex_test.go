package catalog

import "testing"

func TestMixLock(t *testing.T) {
	const lock = `%{
  "castore": {:hex, :castore, "1.0.5", "9eeebb394cc9a0f3ae56b813459f990abb0a3dedee1be6b27fdb50301930502f", [:mix], [], "hexpm", "8d7c597c3e4a64c395980882d4bca3cebb8d74197c590dc272cfd3b6a6310578"},
  "jason": {:hex, :jason, "1.4.1", "af1504e35f629ddcdd6addb3513c3853991f694921b1b9368b0bd32beb9f1b63", [:mix], [{:decimal, "~> 1.0 or ~> 2.0", [hex: :decimal, repo: "hexpm", optional: true]}], "hexpm", "fbb01ecdfd565b56261302f7e1fcc27c4fb8f32d56eab74db621fc154604a7a1"},
  "phoenix": {:git, "https://github.com/phoenixframework/phoenix.git", "2c6a0b5", [branch: "main"]},
  "plug_crypto": {:hex, :"plug_crypto", "2.0.0", "77515cc10af06645abbfb5e6ad7a3e9714f805ae118fa1a70205f80d2d70fe73", [:mix], [], "hexpm", "53695bae57cc4e54566d993eb01074e4d894b65a3766f1c43e2c61a1b0f45ea9"},
}
`
	checkParser(t, parseMixLock, "mix.lock", "Hex", "hex", nameVersionPURL, []parseCase{
		{"hex and git", lock, []string{"castore@1.0.5 pkg:hex/castore@1.0.5", "jason@1.4.1 pkg:hex/jason@1.4.1", "plug_crypto@2.0.0 pkg:hex/plug_crypto@2.0.0"}, ""},
		{"empty map", "%{}\n", nil, ""},
		{"not a lock", "defmodule X do\nend\n", nil, "starts with %{"},
		{"empty", "", nil, "empty mix.lock"},
		{"hex without version", "%{\n  \"a\": {:hex, :a, 1},\n}\n", nil, "is not {:hex"},
	})
}
