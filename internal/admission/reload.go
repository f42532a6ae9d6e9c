package admission

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// fileState remembers what a watched file looked like. Changes are found
// by polling modification time and size, confirmed by the content hash,
// which also catches Kubernetes' ConfigMap/Secret volume updates (a
// symlink swap that changes both).
type fileState struct {
	mod  time.Time
	size int64
	hash string
	data []byte
}

// changed stats the file and, when it looks different, reads and hashes it.
func (st fileState) changed(path string) (fileState, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return st, false, err
	}
	if fi.ModTime().Equal(st.mod) && fi.Size() == st.size {
		return st, false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return st, false, err
	}
	sum := sha256.Sum256(data)
	next := fileState{mod: fi.ModTime(), size: fi.Size(), hash: hex.EncodeToString(sum[:]), data: data}
	return next, next.hash != st.hash, nil
}

func loadPolicyState(ctx context.Context, path string, secrets supplychain.SecretReader) (*Policy, fileState, error) {
	st, _, err := fileState{}.changed(path)
	if err != nil {
		return nil, st, fmt.Errorf("admission policy %s: %w", path, err)
	}
	p, err := parsePolicy(ctx, path, st.data, secrets)
	st.data = nil
	return p, st, err
}

// certReloader serves a certificate read from files and re-reads them when
// they change, so a rotated certificate is used without a restart.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	mu                sync.Mutex
	certAt, keyAt     fileState
	lastCheck         atomic.Int64
	onReload          func(error)
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("both a certificate and a key file are required")
	}
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads both files; on error the previous certificate stays.
func (c *certReloader) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	certAt, certChanged, err := c.certAt.changed(c.certFile)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", c.certFile, err)
	}
	keyAt, keyChanged, err := c.keyAt.changed(c.keyFile)
	if err != nil {
		return fmt.Errorf("key %s: %w", c.keyFile, err)
	}
	if !certChanged && !keyChanged && c.cert.Load() != nil {
		return nil
	}
	if certAt.data == nil {
		if certAt.data, err = os.ReadFile(c.certFile); err != nil {
			return fmt.Errorf("certificate %s: %w", c.certFile, err)
		}
	}
	if keyAt.data == nil {
		if keyAt.data, err = os.ReadFile(c.keyFile); err != nil {
			return fmt.Errorf("key %s: %w", c.keyFile, err)
		}
	}
	pair, err := tls.X509KeyPair(certAt.data, keyAt.data)
	if err != nil {
		// Mid-rotation the two files may not match yet: retry next time.
		return fmt.Errorf("certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	certAt.data, keyAt.data = nil, nil
	c.certAt, c.keyAt = certAt, keyAt
	c.cert.Store(&pair)
	return nil
}

// check reloads when the files changed, at most once a second.
func (c *certReloader) check() {
	now := time.Now().UnixNano()
	last := c.lastCheck.Load()
	if now-last < int64(time.Second) || !c.lastCheck.CompareAndSwap(last, now) {
		return
	}
	before := c.cert.Load()
	err := c.load()
	if c.onReload != nil && (err != nil || c.cert.Load() != before) {
		c.onReload(err)
	}
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.check()
	return c.cert.Load(), nil
}
