// Package encryption verifies encryption at rest of Kubernetes objects: it
// reads the raw values the API server stored in etcd and tells, for each
// object, whether it is plaintext or which provider and key encrypted it;
// it reviews an EncryptionConfiguration for weaknesses; and it rewrites
// objects through the API server so they are stored with the current key.
//
// What it reports is only what it verified: a Result carries the
// verification level (raw values read from etcd, or only the configuration
// seen), and never claims encryption it did not observe.
package encryption

import (
	"bytes"
	"strings"
)

// Provider names as they appear in stored prefixes and in an
// EncryptionConfiguration.
const (
	ProviderIdentity  = "identity"
	ProviderAESCBC    = "aescbc"
	ProviderAESGCM    = "aesgcm"
	ProviderSecretbox = "secretbox"
	ProviderKMS       = "kms"
	// ProviderUnknown marks a value that is neither a known plaintext
	// encoding nor a known encryption prefix.
	ProviderUnknown = "unknown"
)

// encPrefix starts every value written by an encrypting provider:
// "k8s:enc:<provider>:<version>:<key or plugin name>:<ciphertext>".
const encPrefix = "k8s:enc:"

// protobufMagic starts a value the API server wrote in its protobuf
// encoding (the default for built-in types); JSON values start with '{'.
var protobufMagic = []byte("k8s\x00")

// Storage is how one stored value is encoded.
type Storage struct {
	// Encrypted is true when the value carries an encryption prefix.
	Encrypted bool
	// Provider is aescbc, aesgcm, secretbox or kms when encrypted;
	// identity for plaintext; unknown when the value is neither.
	Provider string
	// Version is the prefix's version: "v1" for the local providers and
	// KMS v1, "v2" for KMS v2.
	Version string
	// Key is the key name (local providers) or the KMS plugin name.
	Key string
}

// Label renders the storage as "aescbc:key1", "kms-v2:vault" or "plaintext".
func (s Storage) Label() string {
	switch {
	case !s.Encrypted && s.Provider == ProviderIdentity:
		return "plaintext"
	case !s.Encrypted:
		return ProviderUnknown
	case s.Provider == ProviderKMS:
		return "kms-" + s.Version + ":" + s.Key
	default:
		return s.Provider + ":" + s.Key
	}
}

// Classify tells how a raw etcd value is stored. It only looks at the
// prefix, never decrypts, and is safe on arbitrary bytes.
func Classify(value []byte) Storage {
	if bytes.HasPrefix(value, []byte(encPrefix)) {
		// provider:version:key:ciphertext; the key name cannot contain ':'
		// (the API server rejects such names), the ciphertext can.
		rest := string(value[len(encPrefix):min(len(value), len(encPrefix)+512)])
		parts := strings.SplitN(rest, ":", 4)
		if len(parts) == 4 && parts[0] != "" && parts[1] != "" && parts[2] != "" {
			return Storage{Encrypted: true, Provider: parts[0], Version: parts[1], Key: parts[2]}
		}
		return Storage{Provider: ProviderUnknown}
	}
	trimmed := bytes.TrimLeft(value, " \t\r\n")
	if bytes.HasPrefix(value, protobufMagic) || bytes.HasPrefix(trimmed, []byte("{")) {
		return Storage{Provider: ProviderIdentity}
	}
	return Storage{Provider: ProviderUnknown}
}
