// Package sigstoretest is an in-process, offline Sigstore for tests and
// benchmarks: a Fulcio-style certificate authority, a Rekor log key that
// signs real Rekor entries, and an RFC 3161 timestamp authority, with the
// trusted_root.json that trusts them, and a certificate transparency log
// whose SCTs the certificates embed. See Sigstore for what it is and is
// not.
package sigstoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/digitorus/timestamp"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Sigstore is the keyless signing infrastructure of these tests, all
// in process and offline: a Fulcio-style CA (root, intermediate, leaf
// certificates with the OIDC identity as a URI SAN and Fulcio's
// 1.3.6.1.4.1.57264.1.* extensions for issuer and workflow claims), a Rekor
// log key signing real Rekor "dsse" v0.0.1 entries (built with rekor's own
// types) with signed entry timestamps, inclusion proofs and signed
// checkpoints, and an RFC 3161 timestamp authority (digitorus/timestamp, the
// library Sigstore's TSA uses). It is not a running Fulcio or Rekor: no
// OIDC token exchange happens. sigstore-go's own pkg/testing/ca cannot be
// used: it imports rekor's PGP support, which needs golang.org/x/crypto's
// openpgp, removed from the x/crypto this module must use (v0.59.0).
type Sigstore struct {
	fulcio   *root.FulcioCertificateAuthority
	interKey *ecdsa.PrivateKey
	tsa      *root.SigstoreTimestampingAuthority
	tsaKey   *ecdsa.PrivateKey
	rekorKey *ecdsa.PrivateKey
	rekorID  []byte
	ctKey    *ecdsa.PrivateKey
	ctID     []byte
	// RootPath is a trusted_root.json trusting this Sigstore, its CT log
	// included (so an SCT is required); OtherRootPath one trusting
	// another Fulcio CA (and the same logs and timestamp authority), so
	// its certificates do not chain; NoCTRootPath this Sigstore without
	// its CT log (no SCT is required).
	RootPath      string
	OtherRootPath string
	NoCTRootPath  string
}

func New(t testing.TB) *Sigstore {
	t.Helper()
	ts := &Sigstore{}
	ts.fulcio, ts.interKey = newCA(t, x509.ExtKeyUsageCodeSigning)
	other, _ := newCA(t, x509.ExtKeyUsageCodeSigning)
	tsaCA, tsaInterKey := newCA(t, x509.ExtKeyUsageTimeStamping)
	ts.tsaKey = genKey(t)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	leaf := issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "test tsa"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, tsaCA.Intermediates[0], &ts.tsaKey.PublicKey, tsaInterKey)
	ts.tsa = &root.SigstoreTimestampingAuthority{Root: tsaCA.Root, Intermediates: tsaCA.Intermediates, Leaf: leaf,
		ValidityPeriodStart: time.Now().Add(-time.Hour), ValidityPeriodEnd: time.Now().Add(time.Hour), URI: "https://tsa.test"}
	ts.rekorKey = genKey(t)
	der, err := x509.MarshalPKIXPublicKey(&ts.rekorKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	ts.rekorID = sum[:]
	ts.ctKey = genKey(t)
	if der, err = x509.MarshalPKIXPublicKey(&ts.ctKey.PublicKey); err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(der)
	ts.ctID = sum[:]

	dir := t.TempDir()
	ts.RootPath = filepath.Join(dir, "trusted_root.json")
	ts.OtherRootPath = filepath.Join(dir, "other_root.json")
	ts.NoCTRootPath = filepath.Join(dir, "no_ct_root.json")
	ts.writeRoot(t, ts.RootPath, ts.fulcio, true)
	ts.writeRoot(t, ts.OtherRootPath, other, true)
	ts.writeRoot(t, ts.NoCTRootPath, ts.fulcio, false)
	return ts
}

func genKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newCA makes a root and an intermediate for one extended key usage.
func newCA(t testing.TB, eku x509.ExtKeyUsage) (*root.FulcioCertificateAuthority, *ecdsa.PrivateKey) {
	t.Helper()
	rootKey, interKey := genKey(t), genKey(t)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root", Organization: []string{"palisade test"}},
		NotBefore: time.Now().Add(-5 * time.Hour), NotAfter: time.Now().Add(5 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootCert := issue(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	inter := issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test intermediate", Organization: []string{"palisade test"}},
		NotBefore: time.Now().Add(-4 * time.Hour), NotAfter: time.Now().Add(4 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtKeyUsage: []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true, IsCA: true,
	}, rootCert, &interKey.PublicKey, rootKey)
	return &root.FulcioCertificateAuthority{
		Root: rootCert, Intermediates: []*x509.Certificate{inter},
		ValidityPeriodStart: time.Now().Add(-5 * time.Hour), ValidityPeriodEnd: time.Now().Add(5 * time.Hour),
		URI: "https://fulcio.test",
	}, interKey
}

const rekorHost = "rekor.localhost"

// writeRoot writes a trusted_root.json with the Fulcio CA f, the test
// Rekor log and timestamp authority, and (withCT) the test CT log.
func (ts *Sigstore) writeRoot(t testing.TB, path string, f *root.FulcioCertificateAuthority, withCT bool) {
	t.Helper()
	logs := map[string]*root.TransparencyLog{hex.EncodeToString(ts.rekorID): {
		BaseURL: "https://" + rekorHost, ID: ts.rekorID, HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
		PublicKey: &ts.rekorKey.PublicKey, ValidityPeriodStart: time.Now().Add(-5 * time.Hour),
	}}
	var ctlogs map[string]*root.TransparencyLog
	if withCT {
		ctlogs = map[string]*root.TransparencyLog{hex.EncodeToString(ts.ctID): {
			BaseURL: "https://ctfe.localhost", ID: ts.ctID, HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
			PublicKey: &ts.ctKey.PublicKey, ValidityPeriodStart: time.Now().Add(-5 * time.Hour),
		}}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{f}, ctlogs, []root.TimestampingAuthority{ts.tsa}, logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// KeylessOpts choose what a keyless signature carries.
type KeylessOpts struct {
	Subject string // SAN URI
	Issuer  string
	Claims  map[int]string // Fulcio extension OID arc -> value
	// noTimestamp leaves out the RFC 3161 timestamp; noTlog the Rekor entry.
	NoTimestamp, NoTlog bool
	// noSET leaves the signed entry timestamp out of the Rekor entry (an
	// inclusion proof alone gives no trusted time).
	NoSET bool
	// notBefore shifts the certificate's validity (default now).
	NotBefore time.Time
	// NoSCT leaves the embedded SCT out of the certificate; BadSCT embeds
	// one signed by a CT log key no trusted root lists.
	NoSCT, BadSCT bool
}

// fulcioLeaf issues a leaf certificate the way Fulcio does: the OIDC
// identity as a URI SAN, the issuer and claims as v2 extensions (DER
// UTF8String), ten minutes of validity.
func (ts *Sigstore) fulcioLeaf(t testing.TB, o KeylessOpts) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(o.Subject)
	if err != nil {
		t.Fatal(err)
	}
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	exts := map[int]string{8: o.Issuer}
	for k, v := range o.Claims {
		exts[k] = v
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		URIs:         []*url.URL{u},
		NotBefore:    nb, NotAfter: nb.Add(10 * time.Minute),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	for arc, v := range exts {
		der, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, arc}, Value: der})
	}
	if !o.NoSCT {
		ctKey, ctID := ts.ctKey, ts.ctID
		if o.BadSCT {
			ctKey = genKey(t)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ts.embeddedSCT(t, tmpl, &key.PublicKey, ctKey, ctID))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ts.fulcio.Intermediates[0], &key.PublicKey, ts.interKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// oidSCTList is the X.509 extension of embedded SCTs (RFC 6962 3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// embeddedSCT is the SCT list extension a CT log (ctKey, ctID) gives the
// certificate tmpl will become, as Fulcio embeds it: the SCT signs the
// precertificate, i.e. the final certificate's TBS without this
// extension. That TBS is found by issuing the certificate once with a
// placeholder SCT list and removing it, as verifiers do.
func (ts *Sigstore) embeddedSCT(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, ctKey *ecdsa.PrivateKey, ctID []byte) pkix.Extension {
	t.Helper()
	placeholder, _ := asn1.Marshal([]byte{0})
	draft := *tmpl
	draft.ExtraExtensions = append(append([]pkix.Extension{}, tmpl.ExtraExtensions...), pkix.Extension{Id: oidSCTList, Value: placeholder})
	der, err := x509.CreateCertificate(rand.Reader, &draft, ts.fulcio.Intermediates[0], pub, ts.interKey)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	precertTBS, err := ctx509.RemoveSCTList(parsed.RawTBSCertificate)
	if err != nil {
		t.Fatal(err)
	}
	stamp := uint64(time.Now().UnixMilli())
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, Timestamp: stamp}
	copy(sct.LogID.KeyID[:], ctID)
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{EntryType: ct.PrecertLogEntryType, Timestamp: stamp, PrecertEntry: &ct.PreCert{
			IssuerKeyHash: sha256.Sum256(ts.fulcio.Intermediates[0].RawSubjectPublicKeyInfo), TBSCertificate: precertTBS}}}})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, ctKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: sig}
	list, err := x509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cttls.Marshal(*list)
	if err != nil {
		t.Fatal(err)
	}
	value, err := asn1.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSCTList, Value: value}
}

// Statement returns an in-toto statement about digest.
func Statement(t testing.TB, digest, predicateType string, predicate any) []byte {
	t.Helper()
	h := digest[len("sha256:"):]
	out, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "image", "digest": map[string]string{"sha256": h}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SignEnvelope signs an in-toto statement into a DSSE envelope.
func SignEnvelope(t testing.TB, key crypto.Signer, stmt []byte) *dsse.Envelope {
	t.Helper()
	sv, err := signature.LoadSignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), inTotoPayloadType, stmt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func protoEnvelope(t testing.TB, env *dsse.Envelope) *protodsse.Envelope {
	t.Helper()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	return &protodsse.Envelope{PayloadType: env.PayloadType, Payload: payload, Signatures: []*protodsse.Signature{{Sig: sig}}}
}

// KeylessBundle signs stmt keylessly and returns the Sigstore bundle JSON
// (v0.3: leaf certificate, Rekor entry with inclusion proof, RFC 3161
// timestamp).
func (ts *Sigstore) KeylessBundle(t testing.TB, stmt []byte, o KeylessOpts) []byte {
	t.Helper()
	cert, key := ts.fulcioLeaf(t, o)
	env := SignEnvelope(t, key, stmt)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	pb := &protobundle.Bundle{
		MediaType: bundleV03,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, env)},
	}
	if !o.NoTlog {
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{ts.tlogEntry(t, cert, env, sig, !o.NoSET)}
	}
	if !o.NoTimestamp {
		tsr := ts.timestamp(t, sig)
		pb.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// KeyedBundle signs stmt with key into a bundle with a public-key hint and
// nothing else (cosign --tlog-upload=false).
func KeyedBundle(t testing.TB, key crypto.Signer, stmt []byte) []byte {
	t.Helper()
	env := SignEnvelope(t, key, stmt)
	data, err := protojson.Marshal(&protobundle.Bundle{
		MediaType:            bundleV03,
		VerificationMaterial: keyMaterial(),
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, env)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// EnvelopeJSON is a DSSE envelope as cosign writes it in .att layers.
func EnvelopeJSON(t testing.TB, env *dsse.Envelope) []byte {
	t.Helper()
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tlogEntry logs the envelope in the test Rekor: a "dsse" v0.0.1 entry
// canonicalised by rekor's own types, with (unless withSET is false) a
// signed entry timestamp, and an inclusion proof in a tree of one leaf
// with a checkpoint signed by the log key.
func (ts *Sigstore) tlogEntry(t testing.TB, cert *x509.Certificate, env *dsse.Envelope, sig []byte, withSET bool) *protorekor.TransparencyLogEntry {
	t.Helper()
	ctx := context.Background()
	envJSON, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	pe, err := types.NewProposedEntry(ctx, "dsse", "0.0.1", types.ArtifactProperties{
		ArtifactBytes: envJSON, PublicKeyBytes: [][]byte{certPEM}, PKIFormat: "x509", SignatureBytes: sig,
	})
	if err != nil {
		t.Fatal(err)
	}
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		t.Fatal(err)
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadECDSASignerVerifier(ts.rekorKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	integrated := time.Now().Unix()
	tle := &protorekor.TransparencyLogEntry{
		LogIndex: 0, LogId: &protocommon.LogId{KeyId: ts.rekorID},
		KindVersion:    &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"},
		IntegratedTime: integrated, CanonicalizedBody: body,
	}
	if withSET {
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: ts.signSET(t, body, integrated)}
	}
	leaf := sha256.Sum256(append([]byte{0}, body...))
	cp, err := util.CreateAndSignCheckpoint(ctx, rekorHost, 123, 1, leaf[:], signer)
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionProof = &protorekor.InclusionProof{LogIndex: 0, RootHash: leaf[:], TreeSize: 1, Checkpoint: &protorekor.Checkpoint{Envelope: string(cp)}}
	return tle
}

// signSET is the test Rekor's signed entry timestamp of an entry: its
// signature over the canonical JSON of body, time, index and log ID.
func (ts *Sigstore) signSET(t testing.TB, body []byte, integrated int64) []byte {
	t.Helper()
	signer, err := signature.LoadECDSASignerVerifier(ts.rekorKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: integrated, LogIndex: 0, LogID: hex.EncodeToString(ts.rekorID)})
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		t.Fatal(err)
	}
	set, err := signer.SignMessage(bytes.NewReader(canon))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// LegacyKeylessSignature signs a simple-signing payload keylessly in
// cosign 2's legacy layout and returns the ".sig" layer's annotations:
// the signature, the Fulcio certificate and chain (PEM), the Rekor
// "hashedrekord" entry with its SET (unless NoTlog; no inclusion proof,
// as cosign writes it) and an RFC 3161 timestamp (unless NoTimestamp).
func (ts *Sigstore) LegacyKeylessSignature(t testing.TB, payload []byte, o KeylessOpts) map[string]string {
	t.Helper()
	cert, key := ts.fulcioLeaf(t, o)
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{ts.fulcio.Intermediates[0], ts.fulcio.Root})
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/certificate":    string(certPEM),
		"dev.sigstore.cosign/chain":          string(chainPEM),
	}
	if !o.NoTlog {
		ctx := context.Background()
		sum := sha256.Sum256(payload)
		pe, err := types.NewProposedEntry(ctx, "hashedrekord", "0.0.1", types.ArtifactProperties{
			ArtifactHash: "sha256:" + hex.EncodeToString(sum[:]), PublicKeyBytes: [][]byte{certPEM}, PKIFormat: "x509", SignatureBytes: sig,
		})
		if err != nil {
			t.Fatal(err)
		}
		impl, err := types.CreateVersionedEntry(pe)
		if err != nil {
			t.Fatal(err)
		}
		body, err := types.CanonicalizeEntry(ctx, impl)
		if err != nil {
			t.Fatal(err)
		}
		integrated := time.Now().Unix()
		rb := map[string]any{
			"SignedEntryTimestamp": ts.signSET(t, body, integrated),
			"Payload": map[string]any{"body": base64.StdEncoding.EncodeToString(body), "integratedTime": integrated,
				"logIndex": 0, "logID": hex.EncodeToString(ts.rekorID)},
		}
		data, err := json.Marshal(rb)
		if err != nil {
			t.Fatal(err)
		}
		ann["dev.sigstore.cosign/bundle"] = string(data)
	}
	if !o.NoTimestamp {
		data, err := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts.timestamp(t, sig)})
		if err != nil {
			t.Fatal(err)
		}
		ann["dev.sigstore.cosign/rfc3161timestamp"] = string(data)
	}
	return ann
}

// LegacyKeylessAttestation signs stmt keylessly in cosign 2's legacy
// ".att" layout and returns the layer's blob (the DSSE envelope) and
// annotations: the Fulcio certificate and chain, the Rekor "dsse" entry
// with its SET (unless NoTlog; no inclusion proof, as cosign writes it) and
// an RFC 3161 timestamp over the whole envelope JSON, as cosign 2 takes it
// for this layout (unless NoTimestamp).
func (ts *Sigstore) LegacyKeylessAttestation(t testing.TB, stmt []byte, o KeylessOpts) ([]byte, map[string]string) {
	t.Helper()
	cert, key := ts.fulcioLeaf(t, o)
	env := SignEnvelope(t, key, stmt)
	envJSON := EnvelopeJSON(t, env)
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{ts.fulcio.Intermediates[0], ts.fulcio.Root})
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{
		"dev.cosignproject.cosign/signature": "",
		"dev.sigstore.cosign/certificate":    string(certPEM),
		"dev.sigstore.cosign/chain":          string(chainPEM),
	}
	if !o.NoTlog {
		e := ts.tlogEntry(t, cert, env, sig, !o.NoSET)
		rb := map[string]any{
			"SignedEntryTimestamp": e.GetInclusionPromise().GetSignedEntryTimestamp(),
			"Payload": map[string]any{"body": base64.StdEncoding.EncodeToString(e.CanonicalizedBody), "integratedTime": e.IntegratedTime,
				"logIndex": e.LogIndex, "logID": hex.EncodeToString(ts.rekorID)},
		}
		data, err := json.Marshal(rb)
		if err != nil {
			t.Fatal(err)
		}
		ann["dev.sigstore.cosign/bundle"] = string(data)
	}
	if !o.NoTimestamp {
		data, err := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts.timestamp(t, envJSON)})
		if err != nil {
			t.Fatal(err)
		}
		ann["dev.sigstore.cosign/rfc3161timestamp"] = string(data)
	}
	return envJSON, ann
}

// timestamp is the test TSA's RFC 3161 response for sig (the bytes it
// timestamps).
func (ts *Sigstore) timestamp(t testing.TB, sig []byte) []byte {
	t.Helper()
	tsq, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	req, err := timestamp.ParseRequest(tsq)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}}
	resp, err := tmpl.CreateResponseWithOpts(ts.tsa.Leaf, ts.tsaKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

const (
	inTotoPayloadType = "application/vnd.in-toto+json"
	bundleV03         = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

func keyMaterial() *protobundle.VerificationMaterial {
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
	}
}
