// Package supplychain verifies the Sigstore evidence attached to a container
// image — signatures and in-toto attestations, keyed or keyless — offline,
// from a trusted root file (trusted_root.json) and the registry alone: no
// Rekor, Fulcio or TUF server is contacted.
//
// The flow is load → normalise → evaluate: Fetch reads every piece of
// evidence a registry holds for a digest, by both conventions cosign uses
// (the legacy "sha256-<hex>.sig" and ".att" tags, and OCI 1.1 referrers with
// the "sha256-<hex>" tag-schema fallback for registries without the
// referrers API); each piece becomes a Sigstore bundle; Verify checks a
// Rule's signers and attestations against them with sigstore-go's verifier
// (certificate chains to the trusted Fulcio roots, certificate identity and
// Fulcio extensions, SCTs, Rekor inclusion proofs and signed entry
// timestamps, RFC 3161 timestamps), then evaluates the attestations' CEL
// conditions over their predicates.
//
// Legacy layers carry no bundle: a keyed ".sig" layer (a simple-signing
// payload and its signature in an annotation) or ".att" layer (a DSSE
// envelope) is wrapped here into a bundle with a public-key hint, so the
// signature itself is still checked by sigstore-go. What sigstore-go has no
// equivalent for is the simple-signing payload: it knows nothing of the
// "critical.image.docker-manifest-digest" field that binds a legacy
// signature to an image, so that check (and the layout of the legacy tags)
// stays here, in internal/admission/cosign's format code. A legacy keyless
// ".sig" layer (the Fulcio certificate and chain, the Rekor entry with its
// signed entry timestamp and an RFC 3161 timestamp in annotations) is
// wrapped into a v0.1 bundle the same way (legacy.go), so the certificate,
// SET, entry and identity are checked by sigstore-go against the trusted
// root. A legacy keyless ".att" layer (the DSSE envelope as the blob, the
// same annotations) becomes a v0.1 bundle with the envelope as content;
// cosign 2 timestamps that layout's whole envelope JSON, not its
// signature, so Check verifies that RFC 3161 token against the envelope
// with the trusted root's timestamp authorities itself, and the observed
// time sigstore-go needs comes from the Rekor SET.
//
// Every input is bounded: the number of referrers and layers read, the size
// of a bundle, envelope, payload or statement, the nesting depth of JSON
// evaluated by CEL, and the CEL cost of a condition.
package supplychain
