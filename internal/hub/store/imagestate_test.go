package store

import (
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

func TestImageScanState(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name               string
		im                 Image
		notMatched, failed bool
	}{
		{"not scanned", Image{}, false, false},
		{"matched", Image{ScannedAt: at, DBStamp: "2026-12-01T00:00:00Z/0123456789ab"}, false, false},
		{"catalogued without a database", Image{ScannedAt: at, ScanError: fleetapi.ImageScanNotMatched}, true, false},
		{"no stamp and no error", Image{ScannedAt: at}, false, false},
		{"catalogue failed", Image{ScannedAt: at, ScanError: "image x: pull: 500"}, false, true},
		{"scan failed", Image{ScannedAt: at, DBStamp: "s", ScanError: "image x: pull: 500"}, false, true},
		{"not-matched text with a stamp", Image{ScannedAt: at, DBStamp: "s", ScanError: fleetapi.ImageScanNotMatched}, false, true},
	} {
		if got := c.im.NotMatched(); got != c.notMatched {
			t.Errorf("%s: NotMatched %v, want %v", c.name, got, c.notMatched)
		}
		if got := c.im.ScanFailed(); got != c.failed {
			t.Errorf("%s: ScanFailed %v, want %v", c.name, got, c.failed)
		}
	}
}
