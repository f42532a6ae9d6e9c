package supplychain

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Annotations of a legacy keyless ".sig" layer (cosign 2 without
// --new-bundle-format): the Fulcio certificate and its chain (PEM), the
// Rekor entry with its signed entry timestamp, and an RFC 3161 timestamp.
const (
	AnnCertificate = annCertificate
	AnnChain       = "dev.sigstore.cosign/chain"
	AnnRekorBundle = "dev.sigstore.cosign/bundle"
	AnnTimestamp   = "dev.sigstore.cosign/rfc3161timestamp"
	AnnSignature   = annSignature
)

// Bounds of a legacy keyless layer's annotations (a certificate chain is
// a few KiB; a Rekor entry holds the certificate again).
const (
	maxLegacyCerts      = 8
	maxLegacyAnnotation = 64 << 10
)

// RekorBundle is cosign's "dev.sigstore.cosign/bundle" annotation: a Rekor
// entry and its signed entry timestamp (SET), with no inclusion proof.
type RekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"` // base64 of the canonical entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	} `json:"Payload"`
}

// RFC3161Annotation is cosign's "dev.sigstore.cosign/rfc3161timestamp".
type RFC3161Annotation struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
}

// legacyKeylessSignature reads a keyless simple-signing layer and wraps
// its signature, certificate, Rekor entry and timestamp in a Sigstore
// bundle (v0.1: the entry carries a SET and no inclusion proof), so that
// sigstore-go checks the certificate against the trusted root's Fulcio
// CAs, the SET against its Rekor keys, the entry against the signature
// and certificate, and the identity, as for any bundle.
func legacyKeylessSignature(img v1.Image, l v1.Descriptor) ([]byte, *bundle.Bundle, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, nil, fmt.Errorf("annotation %s is missing or not base64", annSignature)
	}
	payload, err := readBlob(img, l, MaxPayload)
	if err != nil {
		return nil, nil, err
	}
	b, err := KeylessMessageBundle(payload, sig, l.Annotations)
	return payload, b, err
}

// KeylessMessageBundle builds the bundle of a legacy keyless signature
// over payload from the layer's annotations.
func KeylessMessageBundle(payload, sig []byte, ann map[string]string) (*bundle.Bundle, error) {
	vm, err := keylessMaterial(ann)
	if err != nil {
		return nil, err
	}
	if ts := ann[AnnTimestamp]; ts != "" {
		token, err := rfc3161Token(ts)
		if err != nil {
			return nil, err
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: token}},
		}
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content:              messageSignature(payload, sig),
	})
	if err != nil {
		return nil, fmt.Errorf("legacy keyless signature: %w", err)
	}
	return b, nil
}

// KeylessEnvelopeBundle builds the bundle of a legacy keyless ".att"
// layer: the DSSE envelope (the layer's blob), with the certificate and
// Rekor entry of the annotations. cosign 2 timestamps the whole envelope
// JSON of such a layer (not the signature, as in a bundle), which
// sigstore-go cannot check; the token is returned apart, for Check to
// verify against the envelope. The observed time sigstore-go needs comes
// from the Rekor entry's SET.
func KeylessEnvelopeBundle(envelope []byte, ann map[string]string) (*bundle.Bundle, []byte, error) {
	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, nil, err
	}
	vm, err := keylessMaterial(ann)
	if err != nil {
		return nil, nil, err
	}
	var token []byte
	if ts := ann[AnnTimestamp]; ts != "" {
		if token, err = rfc3161Token(ts); err != nil {
			return nil, nil, err
		}
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("legacy keyless attestation: %w", err)
	}
	return b, token, nil
}

// keylessMaterial is the verification material of a legacy keyless layer:
// the certificate and the Rekor entry with its SET.
func keylessMaterial(ann map[string]string) (*protobundle.VerificationMaterial, error) {
	for _, k := range []string{AnnCertificate, AnnChain, AnnRekorBundle, AnnTimestamp} {
		if len(ann[k]) > maxLegacyAnnotation {
			return nil, fmt.Errorf("annotation %s is %d bytes, over the %d-byte limit", k, len(ann[k]), maxLegacyAnnotation)
		}
	}
	certs, err := pemCertificates(ann[AnnCertificate])
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("annotation %s: want one PEM certificate (%v)", AnnCertificate, err)
	}
	// The chain annotation is what cosign was given; the trusted root, not
	// the evidence, says which CAs are trusted. It must still be PEM.
	if ann[AnnChain] != "" {
		chain, err := pemCertificates(ann[AnnChain])
		if err != nil || len(chain) > maxLegacyCerts {
			return nil, fmt.Errorf("annotation %s: want at most %d PEM certificates (%v)", AnnChain, maxLegacyCerts, err)
		}
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: certs[0]}},
		}},
	}
	if rb := ann[AnnRekorBundle]; rb != "" {
		e, err := legacyTlogEntry(rb)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", AnnRekorBundle, err)
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	}
	return vm, nil
}

// rfc3161Token reads cosign's timestamp annotation.
func rfc3161Token(annotation string) ([]byte, error) {
	var a RFC3161Annotation
	if err := json.Unmarshal([]byte(annotation), &a); err != nil || len(a.SignedRFC3161Timestamp) == 0 {
		return nil, fmt.Errorf("annotation %s: not a timestamp (%v)", AnnTimestamp, err)
	}
	return a.SignedRFC3161Timestamp, nil
}

// legacyKeylessAttestation reads a keyless DSSE layer (see
// KeylessEnvelopeBundle).
func legacyKeylessAttestation(img v1.Image, l v1.Descriptor) (ev Evidence) {
	data, err := readBlob(img, l, MaxBundle)
	if err != nil {
		ev.Err = err
		return ev
	}
	if ev.Bundle, ev.EnvelopeTimestamp, ev.Err = KeylessEnvelopeBundle(data, l.Annotations); ev.Err != nil {
		return ev
	}
	ev.Envelope = data
	ev.PredicateType, ev.Err = predicateTypeOf(ev.Bundle)
	return ev
}

// legacyTlogEntry turns cosign's Rekor bundle annotation into a log entry.
func legacyTlogEntry(annotation string) (*protorekor.TransparencyLogEntry, error) {
	if err := checkDepth([]byte(annotation), MaxJSONDepth); err != nil {
		return nil, err
	}
	var rb RekorBundle
	if err := json.Unmarshal([]byte(annotation), &rb); err != nil {
		return nil, err
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no SignedEntryTimestamp")
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil || len(body) == 0 {
		return nil, errors.New("the entry body (Payload.body) is missing or not base64")
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil || len(logID) == 0 {
		return nil, errors.New("the log ID (Payload.logID) is missing or not hex")
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil || kv.Kind == "" || kv.APIVersion == "" {
		return nil, errors.New("the entry body (Payload.body) is not a Rekor entry (kind, apiVersion)")
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}

// pemCertificates returns the DER of each CERTIFICATE block; anything
// else in the text is an error.
func pemCertificates(s string) ([][]byte, error) {
	var out [][]byte
	rest := []byte(s)
	for len(out) <= maxLegacyCerts {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", block.Type)
		}
		out = append(out, block.Bytes)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}
