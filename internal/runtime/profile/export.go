package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ExportKind is the kind of an export document.
const ExportKind = "RuntimeProfiles"

// Export is the exchange format of learned profiles: what the hub's
// GET /api/v1/runtime/profiles answers and `netpol generate
// --from-observed` reads.
type Export struct {
	Kind        string    `json:"kind"`
	Cluster     string    `json:"cluster"`
	GeneratedAt time.Time `json:"generatedAt"`
	// Profiles with their State at GeneratedAt.
	Profiles []ExportedProfile `json:"profiles"`
}

// ExportedProfile is a profile with its state when exported.
type ExportedProfile struct {
	Profile
	State string `json:"state"`
}

// Bounds of an export read from a file or the hub.
const (
	MaxExportBytes    = 64 << 20
	MaxExportProfiles = 20_000
)

// ErrExport wraps every error of ReadExport.
var ErrExport = errors.New("runtime profile export")

// ReadExport reads an export, at most MaxExportBytes and
// MaxExportProfiles, every profile validated as an observation would be.
// name is the file or URL, for errors.
func ReadExport(r io.Reader, name string) (*Export, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxExportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrExport, name, err)
	}
	if len(data) > MaxExportBytes {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrExport, name, MaxExportBytes)
	}
	var x Export
	if err := json.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrExport, name, err)
	}
	if x.Kind != ExportKind {
		return nil, fmt.Errorf("%w %s: kind %.64q, want %s", ErrExport, name, x.Kind, ExportKind)
	}
	if len(x.Profiles) > MaxExportProfiles {
		return nil, fmt.Errorf("%w %s: %d profiles, over %d", ErrExport, name, len(x.Profiles), MaxExportProfiles)
	}
	for i := range x.Profiles {
		p := &x.Profiles[i]
		if len(p.Binaries) > MaxBinariesPerProfile || len(p.Connections) > MaxConnsPerProfile {
			return nil, fmt.Errorf("%w %s: profile %d (%s): %d binaries and %d connections, over %d and %d", ErrExport, name, i, p.Workload, len(p.Binaries), len(p.Connections), MaxBinariesPerProfile, MaxConnsPerProfile)
		}
		o := Observation{Workload: p.Workload, Binaries: p.Binaries, Connections: p.Connections}
		if err := o.validateUnbounded(); err != nil {
			return nil, fmt.Errorf("%w %s: profile %d: %w", ErrExport, name, i, err)
		}
		if p.State != "learning" && p.State != "locked" {
			return nil, fmt.Errorf("%w %s: profile %d (%s): state %.32q, want learning or locked", ErrExport, name, i, p.Workload, p.State)
		}
		p.Normalise()
	}
	return &x, nil
}

// validateUnbounded is Validate without the per-observation counts (a
// profile holds more than one observation).
func (o *Observation) validateUnbounded() error {
	if err := o.Workload.validate(); err != nil {
		return err
	}
	return o.validateItems()
}
