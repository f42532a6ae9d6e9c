package hub

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// post sends body as JSON with the client certificate cert; safe in
// goroutines (no t.Fatal).
func (th *testHub) post(cert *tls.Certificate, path string, body any) (int, http.Header, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, nil, err
	}
	c := th.client(cert)
	defer c.CloseIdleConnections()
	resp, err := c.Post(th.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out, err
}

// TestRevocationRacingRenewals revokes a cluster while its agent renews
// its certificate from several goroutines at once, many times over: no
// certificate handed out may authenticate after the revocation returned.
// Before revocation was a state of the cluster checked in the transaction
// that records a renewal, renewals that passed the check before the
// revocation and were recorded after it survived it.
func TestRevocationRacingRenewals(t *testing.T) {
	const iterations, renewers = 200, 4
	th := startHub(t)
	escaped := 0
	for i := range iterations {
		cert, a, _ := th.enrol(t, fmt.Sprintf("race-%d", i))
		var (
			mu     sync.Mutex
			issued []*tls.Certificate
			wg     sync.WaitGroup
			errs   []error
		)
		start := make(chan struct{})
		for range renewers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key, csr := keyAndCSR(t)
				<-start
				status, _, body, err := th.post(cert, fleetapi.PathRenew, fleetapi.RenewRequest{CSR: csr})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case status == http.StatusOK:
					var er fleetapi.EnrollResponse
					if err := json.Unmarshal(body, &er); err != nil {
						errs = append(errs, err)
						return
					}
					c, err := tls.X509KeyPair([]byte(er.Certificate), pemKey(key))
					if err != nil {
						errs = append(errs, err)
						return
					}
					issued = append(issued, &c)
				case status == http.StatusUnauthorized, status == http.StatusTooManyRequests:
				default:
					errs = append(errs, fmt.Errorf("renew: %d %s", status, body))
				}
			}()
		}
		close(start)
		if _, err := th.RevokeCluster(context.Background(), a.ClusterID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, err := range errs {
			t.Fatal(err)
		}
		for _, c := range append(issued, cert) {
			status, _, body, err := th.post(c, fleetapi.PathHeartbeat, fleetapi.Heartbeat{})
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusUnauthorized {
				escaped++
				t.Errorf("iteration %d: a certificate of revoked cluster %s still authenticates: %d %s", i, a.ClusterID, status, body)
			}
		}
		cl, err := th.st.GetCluster(context.Background(), a.ClusterID)
		if err != nil {
			t.Fatal(err)
		}
		if st := cl.State(time.Now(), th.cfg.StaleAfter, th.cfg.OfflineAfter); st == fleetapi.StateOnline {
			t.Errorf("iteration %d: revoked cluster shown %s", i, st)
		}
		if escaped > 5 {
			t.Fatalf("stopping after %d escaped certificates", escaped)
		}
	}
}

// TestRenewalsRateLimitedPerCluster: a second renewal within the
// interval is refused with 429 and a Retry-After the agent can wait.
func TestRenewalsRateLimitedPerCluster(t *testing.T) {
	th := startHub(t)
	cert, _, _ := th.enrol(t, "edge")
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		_, csr := keyAndCSR(t)
		status, hdr, body, err := th.post(cert, fleetapi.PathRenew, fleetapi.RenewRequest{CSR: csr})
		if err != nil {
			t.Fatal(err)
		}
		if status != want {
			t.Fatalf("renewal %d: %d %s, want %d", i, status, body, want)
		}
		if status == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Fatalf("renewal %d: Retry-After %q, want 1..60 seconds", i, hdr.Get("Retry-After"))
			}
		}
	}
}

func pemKey(key *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
