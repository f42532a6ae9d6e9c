package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestDataSumsAsStored: the data hashes kept as bytes compare, print and
// digest exactly as the stored definitions (dhash: the hex of the first
// 16 bytes of the data's SHA-256; an object's digest: the same of its
// rows' dhash strings sorted and joined), which the stored columns hold
// and must never change.
func TestDataSumsAsStored(t *testing.T) {
	dhashOf := func(data string) string {
		sum := sha256.Sum256([]byte(data))
		return hex.EncodeToString(sum[:16])
	}
	for _, n := range []int{0, 1, 2, 14, 32, 33, 100} {
		t.Run(fmt.Sprint(n, " findings"), func(t *testing.T) {
			ws := make([]*wantedFinding, n)
			hs := make([]string, n)
			for i := range ws {
				data := fmt.Sprintf(`{"ruleID":"r-%d","message":"m %d"}`, i%7, i)
				ws[i] = &wantedFinding{dsum: dataSumOf([]byte(data))}
				hs[i] = dhashOf(data)
				if got := ws[i].dsum.String(); got != hs[i] {
					t.Fatalf("finding %d: data hash %s, stored as %s", i, got, hs[i])
				}
				if !ws[i].dsum.is(hs[i]) || ws[i].dsum.is(dhashOf(data+" ")) || ws[i].dsum.is(strings.ToUpper(hs[i])) {
					t.Fatalf("finding %d: is() does not compare as the stored string", i)
				}
			}
			sort.Strings(hs)
			sum := sha256.Sum256([]byte(strings.Join(hs, "")))
			if got, want := objectDigestOf(ws), hex.EncodeToString(sum[:16]); got != want {
				t.Fatalf("object digest %s, stored definition %s", got, want)
			}
		})
	}
}
