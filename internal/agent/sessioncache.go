package agent

import (
	"crypto/tls"
)

// sessionCacheSize bounds the TLS sessions an agent keeps: it talks to
// one hub (a load balancer may put several replicas behind its name, each
// issuing its own tickets), so a handful is enough; the LRU drops the
// rest.
const sessionCacheSize = 16

// identitySessions is the agent's TLS session cache: resumption saves the
// hub the public-key operations of a full handshake (signature and
// certificate verification) on every reconnect, which is what a hub
// starved of CPU with thousands of agents reconnecting needs.
//
// Sessions are kept per client certificate: a resumed session carries the
// certificate of the handshake that created it, so a session made before
// enrolment (no certificate) or with a certificate since renewed would be
// resumed with the wrong identity — refused by the hub ("client
// certificate required") or accepted under the old serial. Keying by the
// current certificate's serial makes such sessions unreachable; the LRU
// drops them. (A handshake racing a renewal may store its session under
// the new serial with the old certificate; the old one stays valid until
// it expires, when the hub refuses the resumption and the agent does a
// full handshake.)
//
// Resumption weakens nothing the hub enforces: Go's server re-checks the
// client certificate's expiry (against its Config.Time) and its chain
// against the current ClientCAs on resumption, and the hub looks the
// serial up (revocation) on every request; the agent's VerifyConnection,
// which pins the hub CA, runs on resumed connections too
// (TestResumedSessionStillEnforcesIdentity).
type identitySessions struct {
	id    *identity
	cache tls.ClientSessionCache
}

func newIdentitySessions(id *identity) *identitySessions {
	return &identitySessions{id: id, cache: tls.NewLRUClientSessionCache(sessionCacheSize)}
}

func (s *identitySessions) key(sessionKey string) string {
	serial := "none"
	if s.id != nil {
		s.id.mu.RLock()
		if s.id.leaf != nil {
			serial = s.id.leaf.SerialNumber.Text(16)
		}
		s.id.mu.RUnlock()
	}
	return serial + "|" + sessionKey
}

func (s *identitySessions) Get(sessionKey string) (*tls.ClientSessionState, bool) {
	return s.cache.Get(s.key(sessionKey))
}

func (s *identitySessions) Put(sessionKey string, cs *tls.ClientSessionState) {
	s.cache.Put(s.key(sessionKey), cs)
}
