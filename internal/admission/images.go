package admission

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/imageref"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

// Rule IDs of the checks only admission does (they need a registry or a
// scanner, so they are not pure rules of internal/rules).
const (
	RuleDigestResolution = "admission/digest-resolution"
	RuleSignature        = "admission/image-signature"
	RuleAttestation      = "admission/image-attestation"
	RuleVulnerabilities  = "admission/image-vulnerabilities"
)

// ImageScanner scans an image by digest reference ("registry/repo@sha256:…")
// and returns its vulnerability findings. The vulnerability matcher of
// internal/vulnmatch implements it once wired; tests use a fake.
type ImageScanner interface {
	Scan(ctx context.Context, digestRef string) (*finding.Report, error)
}

// imageChecks reaches registries and the scanner, with caches that outlive
// policy reloads (keys include everything the result depends on).
type imageChecks struct {
	transport http.RoundTripper
	scanner   ImageScanner
	// fixable reports whether a vulnerability finding has a fix.
	fixable func(finding.Finding) bool
	metrics *Metrics

	digests       *ttlCache[string]
	signatures    *ttlCache[sigResult]
	verifications *ttlCache[supplychain.Decision]
	scans         *ttlCache[scanResult]
}

type sigResult struct {
	ok     bool
	key    string
	reason string
}

type scanResult struct {
	// worst are up to three of the findings that fail the gate.
	worst []finding.Finding
	// severity is the highest known severity of those findings, or the
	// gate's own when all of them are of unknown severity.
	severity finding.Severity
	// unknown is true when some of them are of unknown severity.
	unknown bool
	// summary counts them by severity ("1 CRITICAL, 2 UNKNOWN").
	summary string
	// gaps are the scan's errors: what it could not check (packages of an
	// ecosystem without advisories in the database, unreadable package
	// databases). The gate treats them as a failed scan.
	gaps []string
}

// How long a verified signature and a scan result are trusted. A digest
// never changes, but keys are rotated and databases updated.
//
// An image found unsigned is remembered only briefly: signing it is the
// remedy for the denial, and must take effect at once.
const (
	signatureTTL = time.Hour
	unsignedTTL  = 30 * time.Second
	scanTTL      = 30 * time.Minute
	cacheEntries = 10000
)

func newImageChecks(transport http.RoundTripper, scanner ImageScanner, fixable func(finding.Finding) bool) *imageChecks {
	if transport == nil {
		transport = defaultTransport()
	}
	if fixable == nil {
		fixable = func(finding.Finding) bool { return true }
	}
	signatures := newTTLCache[sigResult](cacheEntries)
	signatures.ttlOf = func(r sigResult, ttl time.Duration) time.Duration {
		if !r.ok {
			return min(ttl, unsignedTTL)
		}
		return ttl
	}
	verifications := newTTLCache[supplychain.Decision](cacheEntries)
	verifications.ttlOf = func(d supplychain.Decision, ttl time.Duration) time.Duration {
		if !d.Verified {
			return min(ttl, unsignedTTL)
		}
		return ttl
	}
	return &imageChecks{
		transport:     transport,
		scanner:       scanner,
		fixable:       fixable,
		digests:       newTTLCache[string](cacheEntries),
		signatures:    signatures,
		verifications: verifications,
		scans:         newTTLCache[scanResult](cacheEntries),
	}
}

// defaultTransport has tight connection timeouts: a registry that does not
// answer must fail well within the webhook's timeout.
func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 2 * time.Second
	t.ResponseHeaderTimeout = 5 * time.Second
	t.MaxIdleConnsPerHost = 8
	return t
}

func (ic *imageChecks) cacheStats() map[string]*cacheStats {
	out := map[string]*cacheStats{}
	for n, c := range map[string]interface {
		stats() cacheStats
	}{"digest": ic.digests, "signature": ic.signatures, "verification": ic.verifications, "scan": ic.scans} {
		s := c.stats()
		out[n] = &s
	}
	return out
}

func (c *ttlCache[V]) stats() cacheStats {
	return cacheStats{hits: c.hits.Load(), misses: c.misses.Load(), entries: c.len()}
}

func (ic *imageChecks) observe(check string, start time.Time, err error) {
	if ic.metrics == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	ic.metrics.checks.WithLabelValues(check, result).Observe(time.Since(start).Seconds())
}

func parseName(p *Policy, image string) (name.Reference, error) {
	var opts []name.Option
	if r, err := imageref.Parse(image); err == nil {
		for _, h := range p.images.Registry.Insecure {
			if r.Registry == imageref.NormaliseHost(h) {
				opts = append(opts, name.Insecure)
			}
		}
	}
	return name.ParseReference(image, opts...)
}

func (ic *imageChecks) remoteOptions(kc authn.Keychain) []remote.Option {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{remote.WithTransport(ic.transport), remote.WithAuthFromKeychain(kc)}
}

// resolve returns the digest a reference points at: the written digest,
// or the one the registry serves for the tag now (cached for the policy's
// TTL). Errors name the image.
func (ic *imageChecks) resolve(ctx context.Context, p *Policy, image string, kc authn.Keychain) (string, error) {
	ref, err := parseName(p, image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	d, _, err := ic.digests.get(ctx, ref.Name(), p.cacheTTL, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, p.registryTimeout)
		defer cancel()
		start := time.Now()
		desc, err := remote.Head(ref, append(ic.remoteOptions(kc), remote.WithContext(ctx))...)
		ic.observe("resolve", start, err)
		if err != nil {
			return "", err
		}
		return desc.Digest.String(), nil
	})
	if err != nil {
		return "", fmt.Errorf("image %q: resolve tag: %w", image, describeRegistryError(err))
	}
	return d, nil
}

// verifySignature checks that the digest carries a cosign signature from
// one of the policy's keys (spec.images.signatures), once per digest,
// repository and key set. Evidence is read and verified by
// internal/supplychain: legacy .sig tags and Sigstore bundle referrers.
func (ic *imageChecks) verifySignature(ctx context.Context, p *Policy, image, digest string, kc authn.Keychain) (sigResult, error) {
	ref, err := parseName(p, image)
	if err != nil {
		return sigResult{}, fmt.Errorf("image %q: %w", image, err)
	}
	repo := ref.Context()
	key := digest + "|" + repo.Name() + "|" + p.keysID()
	res, _, err := ic.signatures.get(ctx, key, signatureTTL, func(ctx context.Context) (sigResult, error) {
		d, err := ic.evaluate(ctx, p, "signature", p.legacyRule, repo, digest, kc)
		if err != nil {
			return sigResult{}, err
		}
		c := d.Checks[0]
		if c.OK {
			return sigResult{ok: true, key: c.Signer}, nil
		}
		return sigResult{reason: c.Reason}, nil
	})
	if err != nil {
		return sigResult{}, fmt.Errorf("image %q: signatures: %w", image, describeRegistryError(err))
	}
	return res, nil
}

// evaluate fetches a digest's evidence and evaluates a rule, within the
// policy's registry timeout.
func (ic *imageChecks) evaluate(ctx context.Context, p *Policy, check string, r *supplychain.Rule, repo name.Repository, digest string, kc authn.Keychain) (supplychain.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, p.registryTimeout)
	defer cancel()
	start := time.Now()
	ev, err := supplychain.Fetch(ctx, repo, digest, ic.remoteOptions(kc)...)
	ic.observe(check, start, err)
	if err != nil {
		return supplychain.Decision{}, err
	}
	return p.verifier.Evaluate(r, repo.Name(), digest, ev), nil
}

// verifyRule evaluates the verifyImages rule that applies to an image, once
// per digest, repository, rule and trusted root. A failed verification is
// remembered only briefly, as an unsigned image is: attaching the missing
// evidence is the remedy and must take effect at once.
func (ic *imageChecks) verifyRule(ctx context.Context, p *Policy, r *supplychain.Rule, image, digest string, kc authn.Keychain) (supplychain.Decision, error) {
	ref, err := parseName(p, image)
	if err != nil {
		return supplychain.Decision{}, fmt.Errorf("image %q: %w", image, err)
	}
	repo := ref.Context()
	key := digest + "|" + repo.Name() + "|" + r.ID + "|" + p.rootID()
	d, _, err := ic.verifications.get(ctx, key, signatureTTL, func(ctx context.Context) (supplychain.Decision, error) {
		return ic.evaluate(ctx, p, "verification", r, repo, digest, kc)
	})
	if err != nil {
		return supplychain.Decision{}, fmt.Errorf("image %q: verification: %w", image, describeRegistryError(err))
	}
	return d, nil
}

// rootID identifies the trusted root in cache keys: its file and age.
func (p *Policy) rootID() string {
	if p.verifier == nil || p.verifier.Root == nil {
		return ""
	}
	return p.verifier.Root.Path + "@" + p.verifier.Root.ModTime.String()
}

// scan runs the scanner for a digest, once per digest, bounded by the
// policy's scan timeout.
func (ic *imageChecks) scan(ctx context.Context, p *Policy, image, digest string) (scanResult, error) {
	if ic.scanner == nil {
		return scanResult{}, fmt.Errorf("image %q: no vulnerability scanner is configured", image)
	}
	ref, err := parseName(p, image)
	if err != nil {
		return scanResult{}, fmt.Errorf("image %q: %w", image, err)
	}
	digestRef := ref.Context().Name() + "@" + digest
	fixableOnly := p.images.Vulnerabilities.FixableOnly
	key := fmt.Sprintf("%s|%d|%t|%t", digestRef, p.vulnSeverity, fixableOnly, p.vulnGate.IgnoreUnknown)
	res, _, err := ic.scans.get(ctx, key, scanTTL, func(ctx context.Context) (scanResult, error) {
		ctx, cancel := context.WithTimeout(ctx, p.scanTimeout)
		defer cancel()
		start := time.Now()
		rep, err := ic.scanner.Scan(ctx, digestRef)
		ic.observe("scan", start, err)
		if err != nil {
			return scanResult{}, err
		}
		var res scanResult
		for _, pr := range rep.Problems {
			if pr.Level == finding.LevelError {
				res.gaps = append(res.gaps, pr.String())
			}
		}
		counts := map[finding.Severity]int{}
		for _, f := range rep.Findings {
			if !p.vulnGate.Fails(f) || (fixableOnly && !ic.fixable(f)) {
				continue
			}
			counts[f.Severity]++
			res.severity = max(res.severity, f.Severity)
			res.unknown = res.unknown || f.Severity == finding.SeverityUnknown
			if len(res.worst) < 3 {
				res.worst = append(res.worst, f)
			}
		}
		if res.severity == finding.SeverityUnknown {
			res.severity = p.vulnSeverity
		}
		var parts []string
		for _, s := range append(finding.AllSeverities(), finding.SeverityUnknown) {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		res.summary = strings.Join(parts, ", ")
		return res, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return scanResult{}, fmt.Errorf("image %q: scan did not finish within %s", image, p.scanTimeout)
		}
		return scanResult{}, fmt.Errorf("image %q: scan: %w", image, err)
	}
	return res, nil
}

// describeRegistryError shortens the usual registry failures.
func describeRegistryError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("registry did not answer in time: %w", err)
	}
	var ue x509.UnknownAuthorityError
	if errors.As(err, &ue) {
		return fmt.Errorf("registry certificate not trusted: %w", err)
	}
	return err
}

// keysID identifies the policy's key set in cache keys.
func (p *Policy) keysID() string { return p.keysHash }

func hashKeys(keys []PublicKey) string {
	h := sha256.New()
	for _, k := range keys {
		der, _ := x509.MarshalPKIXPublicKey(k.Key)
		h.Write(der)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
