package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

// imageVerifier verifies the Sigstore evidence of every image digest the
// cluster runs against the fleet's verification bundle (an
// ImageVerificationPolicy with its keys and trusted root inline), with the
// same verifier as `palisade verify image` and the admission webhook, from
// the registry alone: an edge cluster needs no route to Sigstore. Each
// digest's outcome is reported once per policy version; one the registry
// could not answer for is tried again at the next round.
type imageVerifier struct {
	log      *slog.Logger
	registry image.Options
	now      func() time.Time
	sem      chan struct{}

	mu       sync.Mutex
	policy   *supplychain.Policy // nil: no verification bundle
	verifier *supplychain.Verifier
	// policyID names the bundle in reports ("prod v3").
	policyID string
	reported map[string]string // digest -> policyID reported under
	inflight map[string]bool
}

// verifyConcurrency bounds the verifications at once: each is a few
// registry requests and a few milliseconds of CPU.
const verifyConcurrency = 2

func newImageVerifier(log *slog.Logger, registry image.Options, now func() time.Time) *imageVerifier {
	return &imageVerifier{log: log, registry: registry, now: now, sem: make(chan struct{}, verifyConcurrency),
		reported: map[string]string{}, inflight: map[string]bool{}}
}

// apply makes b (nil: none) the policy in force. A bundle that does not
// compile leaves the previous policy in force, and says why.
func (v *imageVerifier) apply(ctx context.Context, b *cachedBundle, content []byte) {
	if b == nil {
		v.mu.Lock()
		v.policy, v.verifier, v.policyID = nil, nil, ""
		v.mu.Unlock()
		return
	}
	id := fmt.Sprintf("%s v%d", b.Name, b.Version)
	v.mu.Lock()
	same := id == v.policyID
	v.mu.Unlock()
	if same {
		return
	}
	// Self-contained: no file, no Secret. An inline trusted root is as
	// old as the bundle that carries it.
	p, err := supplychain.ParsePolicy(ctx, fleetapi.BundleVerification+"/"+b.Name, content, supplychain.PolicySource{Updated: b.CreatedAt})
	if err != nil {
		v.log.Error("verification bundle refused; the images are verified with the previous one, if any", slog.String("bundle", id), slog.Any("error", err))
		return
	}
	attrs := []any{slog.String("bundle", id), slog.Int("rules", len(p.Rules))}
	if p.Root != nil {
		attrs = append(attrs, slog.Time("trustedRootUpdated", p.Root.ModTime), slog.Duration("trustedRootAge", p.Root.Age(v.now())))
	}
	v.log.Info("verification policy applied", attrs...)
	v.mu.Lock()
	v.policy, v.verifier, v.policyID = p, &supplychain.Verifier{Root: p.Root}, id
	v.mu.Unlock()
}

// verify starts a verification for each digest in uses not yet reported
// under the policy in force; enqueue queues each outcome for the hub.
// wg counts the verifications in flight (the agent waits for them).
func (v *imageVerifier) verify(ctx context.Context, uses []fleetapi.ImageUse, wg *sync.WaitGroup, enqueue func(*fleetapi.ImageVerification) error) {
	v.mu.Lock()
	policy, verifier, policyID := v.policy, v.verifier, v.policyID
	v.mu.Unlock()
	if policy == nil {
		return // the hub shows images no agent verified as not checked
	}
	for _, u := range uses {
		if u.Digest == "" {
			continue
		}
		v.mu.Lock()
		skip := v.reported[u.Digest] == policyID || v.inflight[u.Digest]
		if !skip {
			v.inflight[u.Digest] = true
		}
		v.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func(u fleetapi.ImageUse) {
			defer wg.Done()
			select {
			case v.sem <- struct{}{}:
			case <-ctx.Done():
				v.mu.Lock()
				delete(v.inflight, u.Digest)
				v.mu.Unlock()
				return
			}
			defer func() { <-v.sem }()
			res, final := v.check(ctx, policy, verifier, u)
			res.Policy = policyID
			qerr := enqueue(res)
			v.mu.Lock()
			delete(v.inflight, u.Digest)
			if final && qerr == nil {
				v.reported[u.Digest] = policyID
			}
			v.mu.Unlock()
			if qerr != nil {
				v.log.Warn("image verification not queued", slog.String("image", u.Ref), slog.Any("error", qerr))
			}
		}(u)
	}
}

// check verifies one image. final is false when the registry could not
// be read: the outcome (not checked) is reported, and tried again.
func (v *imageVerifier) check(ctx context.Context, policy *supplychain.Policy, verifier *supplychain.Verifier, u fleetapi.ImageUse) (*fleetapi.ImageVerification, bool) {
	res := &fleetapi.ImageVerification{Digest: u.Digest, Ref: u.Ref, CheckedAt: v.now().UTC(), State: fleetapi.VerificationNotChecked}
	if policy.Root != nil {
		res.TrustedRootUpdated = policy.Root.ModTime.UTC()
	}
	rule := policy.Applies(u.Ref)
	if rule == nil {
		res.Reason = "no verifyImages rule of the policy matches " + u.Ref
		return res, true
	}
	res.Rule = rule.Name
	pull, err := pullRef(u.Ref, u.Digest)
	if err != nil {
		res.Reason = err.Error()
		return res, true
	}
	ref, ropts, err := image.RemoteOptions(ctx, pull, v.registry)
	if err != nil {
		res.Reason = fmt.Sprintf("image %s: %v", pull, err)
		return res, true
	}
	d, err := verifier.VerifyImage(ctx, rule, ref, ropts...)
	if err != nil {
		res.Reason = truncate(err.Error())
		v.log.Warn("image not verified: registry", slog.String("image", pull), slog.Any("error", err))
		return res, false
	}
	res.State, res.Signers, res.Reason = outcome(&d)
	return res, true
}

// outcome turns a decision into a state, who vouched for each
// requirement that held, and why the image is not verified.
func outcome(d *supplychain.Decision) (fleetapi.VerificationState, []string, string) {
	var signers, why []string
	for _, c := range d.Checks {
		if c.OK {
			signers = append(signers, c.Requirement+": "+c.Signer)
		} else {
			why = append(why, c.Requirement+": "+c.Reason)
		}
	}
	sort.Strings(signers)
	if len(signers) > fleetapi.MaxVerificationSigners {
		signers = signers[:fleetapi.MaxVerificationSigners]
	}
	for i := range signers {
		signers[i] = truncate(signers[i])
	}
	switch {
	case d.Verified:
		return fleetapi.VerificationVerified, signers, ""
	case d.Evidence[supplychain.KindSignature]+d.Evidence[supplychain.KindAttestation] == 0 && len(d.Unreadable) == 0:
		return fleetapi.VerificationUnsigned, signers, "nothing is attached to " + d.Digest + ": no signature, no attestation"
	}
	for _, u := range d.Unreadable {
		why = append(why, "not understood: "+u)
	}
	return fleetapi.VerificationFailed, signers, truncate(strings.Join(why, "; "))
}

// truncate keeps a text within fleetapi.MaxVerificationText bytes, on a
// rune boundary.
func truncate(s string) string {
	const max = fleetapi.MaxVerificationText
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// verifyRegistry is how verification reaches registries: as the image
// scanner does (its credentials, insecure registries and timeouts), or,
// with no scanner, with no credentials.
func verifyRegistry(scanner *RegistryScanner, version string) image.Options {
	if scanner != nil {
		return scanner.image
	}
	return image.Options{Keychain: &image.Credentials{}, UserAgent: "palisade-agent/" + version}
}
