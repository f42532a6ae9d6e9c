package nodeaudit

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/finding"
)

// AssessEncryption gathers what a host tree under root shows about
// encryption at rest: the API server's --encryption-provider-config and
// the EncryptionConfiguration it names. It reads no etcd, so the result is
// at most encryption.LevelConfig; what could not be read is in Problems.
func AssessEncryption(ctx context.Context, root string) *encryption.Assessment {
	a := &encryption.Assessment{}
	n, err := Load(ctx, Options{Root: root})
	if err != nil {
		a.Problems = append(a.Problems, finding.Problem{Level: finding.LevelNote, Message: fmt.Sprintf("API server configuration not read: %v", err)})
		return a
	}
	api := n.Component(APIServer)
	if !api.Found {
		a.Problems = append(a.Problems, finding.Problem{Level: finding.LevelNote,
			Message: fmt.Sprintf("no API server configuration found under %s (distribution %s); give --encryption-config", root, n.Distribution)})
		return a
	}
	a.APIServerSeen, a.APIServerSource = true, api.Source
	a.EncryptionConfigFlag, _ = api.Flags.Get("encryption-provider-config")
	switch {
	case n.EncryptionConfig != nil:
		c := *n.EncryptionConfig
		c.Path = filepath.Join(root, c.Path)
		a.Config = &c
	case a.EncryptionConfigFlag != "":
		a.Problems = append(a.Problems, finding.Problem{Level: finding.LevelWarning, File: a.EncryptionConfigFlag,
			Message: "the API server's encryption configuration could not be read: " + n.EncryptionConfigErr})
	}
	return a
}
