package supplychain

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/palisade-sec/palisade/internal/jsonenc"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// MaxJSONDepth bounds the nesting of a bundle or in-toto statement: real
// ones nest about ten levels; a hostile one nested thousands deep would
// only cost time in every decoder and in CEL.
const MaxJSONDepth = 64

// MaxDSSESignatures bounds the signatures of one DSSE envelope.
const MaxDSSESignatures = 8

const bundleV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"

// keyedMessageBundle wraps a legacy signature over payload in a bundle
// whose verification material is a public-key hint.
func keyedMessageBundle(payload, sig []byte) (*bundle.Bundle, error) {
	return bundle.NewBundle(&protobundle.Bundle{
		MediaType:            bundleV03,
		VerificationMaterial: keyMaterial(),
		Content:              messageSignature(payload, sig),
	})
}

// messageSignature is a bundle's content for a signature over payload.
func messageSignature(payload, sig []byte) *protobundle.Bundle_MessageSignature {
	sum := sha256.Sum256(payload)
	return &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
		Signature:     sig,
	}}
}

func keyMaterial() *protobundle.VerificationMaterial {
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
	}
}

// envelopeJSON is a DSSE envelope as cosign writes it in .att layers.
type envelopeJSON struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// ParseEnvelope decodes a DSSE envelope (JSON), bounded.
func ParseEnvelope(data []byte) (*protodsse.Envelope, error) {
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("DSSE envelope is %d bytes, over the %d-byte limit", len(data), MaxBundle)
	}
	if err := checkDepth(data, MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	var e envelopeJSON
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	if e.PayloadType == "" || e.Payload == "" {
		return nil, errors.New("DSSE envelope: payloadType and payload are required")
	}
	if len(e.Signatures) == 0 || len(e.Signatures) > MaxDSSESignatures {
		return nil, fmt.Errorf("DSSE envelope: %d signatures, want 1 to %d", len(e.Signatures), MaxDSSESignatures)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("DSSE envelope: payload: %w", err)
	}
	out := &protodsse.Envelope{PayloadType: e.PayloadType, Payload: payload}
	for i, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || len(sig) == 0 {
			return nil, fmt.Errorf("DSSE envelope: signature %d is empty or not base64", i)
		}
		out.Signatures = append(out.Signatures, &protodsse.Signature{Keyid: s.KeyID, Sig: sig})
	}
	return out, nil
}

// keyedEnvelopeBundle wraps a legacy DSSE envelope in a keyed bundle.
func keyedEnvelopeBundle(data []byte) (*bundle.Bundle, error) {
	env, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	return bundle.NewBundle(&protobundle.Bundle{
		MediaType:            bundleV03,
		VerificationMaterial: keyMaterial(),
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env},
	})
}

// Statement is the part of an in-toto statement policies look at.
type Statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

const inTotoPayloadType = "application/vnd.in-toto+json"

// statementOf returns a bundle's in-toto statement: its raw JSON and the
// parsed header. Unverified: callers verify the bundle first.
func statementOf(b *bundle.Bundle) ([]byte, *Statement, error) {
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, nil, errors.New("not a DSSE envelope")
	}
	if env.GetPayloadType() != inTotoPayloadType {
		return nil, nil, fmt.Errorf("DSSE payload type %q, want %q", env.GetPayloadType(), inTotoPayloadType)
	}
	raw := env.GetPayload()
	if err := checkDepth(raw, MaxJSONDepth); err != nil {
		return nil, nil, fmt.Errorf("in-toto statement: %w", err)
	}
	var st Statement
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if st.PredicateType == "" {
		return nil, nil, errors.New("in-toto statement has no predicateType")
	}
	return raw, &st, nil
}

func predicateTypeOf(b *bundle.Bundle) (string, error) {
	_, st, err := statementOf(b)
	if err != nil {
		return "", err
	}
	return st.PredicateType, nil
}

// checkDepth refuses JSON nested deeper than max, in one pass that skips
// strings, before any decoder sees it.
func checkDepth(data []byte, max int) error {
	var str jsonenc.Strings
	depth := 0
	for _, c := range data {
		if str.Inside(c) {
			continue
		}
		switch c {
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nested more than %d levels deep", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
