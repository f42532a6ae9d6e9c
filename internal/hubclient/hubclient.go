// Package hubclient reads the hub's user API (the endpoints a viewer's API
// token may call) for commands that run away from the hub, such as
// `palisade netpol generate --hub`. Agents do not use it: they speak the
// agent API over mutual TLS (internal/agent).
package hubclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TokenEnv is the environment variable holding the API token when no
// token file is given (a token on the command line would show in ps).
const TokenEnv = "PALISADE_HUB_TOKEN"

// maxTokenBytes bounds a token file: tokens are a few dozen bytes.
const maxTokenBytes = 4 << 10

// Options say how to reach a hub.
type Options struct {
	// URL is the hub's base URL, https://host:port.
	URL string
	// TokenFile holds an API token (`palisade hub token api`); "" reads
	// $PALISADE_HUB_TOKEN.
	TokenFile string
	// CAFile holds PEM certificates trusted for the hub's serving
	// certificate (the hub CA, GET /ca.crt, unless the hub serves an
	// operator's certificate); "" trusts the system's roots.
	CAFile string
	// Timeout bounds each request (default 1 minute).
	Timeout time.Duration
}

// Client calls one hub with one API token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New checks o and reads the token and CA files.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("hub %q: want https://host[:port]", o.URL)
	}
	if u.Scheme != "https" {
		// The token would cross the network in clear.
		return nil, fmt.Errorf("hub %s: only https is accepted", o.URL)
	}
	token, err := readToken(o.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", o.URL, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hub %s: CA file: %w", o.URL, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hub %s: CA file %s: no PEM certificate", o.URL, o.CAFile)
		}
		tc.RootCAs = pool
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment},
		// A redirect could carry the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

func readToken(file string) (string, error) {
	if file == "" {
		t := strings.TrimSpace(os.Getenv(TokenEnv))
		if t == "" {
			return "", fmt.Errorf("no API token: give a token file or set $%s (palisade hub token api)", TokenEnv)
		}
		return t, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", file, err)
	}
	t := strings.TrimSpace(string(b))
	if len(b) > maxTokenBytes || t == "" || strings.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("token file %s: want one API token", file)
	}
	return t, nil
}

// RuntimeProfiles reads GET /api/v1/runtime/profiles?cluster= (the
// cluster by name or ID): the cluster's learned workload profiles.
// Errors name the hub and the cluster.
func (c *Client) RuntimeProfiles(ctx context.Context, cluster string) (*profile.Export, error) {
	if cluster == "" {
		return nil, fmt.Errorf("hub %s: no cluster named", c.base.Redacted())
	}
	u := c.base.JoinPath("/api/v1/runtime/profiles")
	u.RawQuery = url.Values{"cluster": {cluster}}.Encode()
	name := fmt.Sprintf("hub %s, cluster %q", c.base.Redacted(), cluster)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %w", name, statusError(resp))
	}
	x, err := profile.ReadExport(resp.Body, name)
	if err != nil {
		return nil, err // names the hub and cluster
	}
	return x, nil
}

// ErrStatus is wrapped by errors of a response that was not a success.
var ErrStatus = errors.New("hub answered")

// statusError describes a refused request with the hub's own message.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 256 {
		msg = msg[:256]
	}
	var hint string
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		hint = " (the API token is unknown, expired or revoked)"
	case http.StatusForbidden:
		hint = " (the token's role may not read this)"
	case http.StatusNotFound:
		hint = " (no such cluster, or not a Palisade hub)"
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		hint = " (a redirect to " + resp.Header.Get("Location") + ": give the hub's own URL)"
	}
	return fmt.Errorf("%w %s%s: %q", ErrStatus, resp.Status, hint, msg)
}
