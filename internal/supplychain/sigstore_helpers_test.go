package supplychain

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
)

// testSigstore is sigstoretest's offline Sigstore with its trusted roots
// loaded.
type testSigstore struct {
	*sigstoretest.Sigstore
	rootPath                  string
	trusted, untrusting, noCT *TrustedRoot
}

type keylessOpts = sigstoretest.KeylessOpts

func newTestSigstore(t testing.TB) *testSigstore {
	t.Helper()
	ts := &testSigstore{Sigstore: sigstoretest.New(t)}
	ts.rootPath = ts.RootPath
	var err error
	if ts.trusted, err = LoadTrustedRoot(ts.RootPath); err != nil {
		t.Fatal(err)
	}
	if ts.untrusting, err = LoadTrustedRoot(ts.OtherRootPath); err != nil {
		t.Fatal(err)
	}
	if ts.noCT, err = LoadTrustedRoot(ts.NoCTRootPath); err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testSigstore) keylessBundle(t testing.TB, stmt []byte, o keylessOpts) []byte {
	return ts.KeylessBundle(t, stmt, o)
}

var (
	statement      = sigstoretest.Statement
	signEnvelope   = sigstoretest.SignEnvelope
	keyedBundle    = sigstoretest.KeyedBundle
	envelopeJSONOf = sigstoretest.EnvelopeJSON
)
