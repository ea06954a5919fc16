package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestArchiveCommandErrors: the service refuses to start without its required settings and
// says which; inspect reports an empty archive.
func TestArchiveCommandErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainErr([]string{"archive"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "--kafka-brokers is required") || !strings.Contains(errb.String(), "--archive-dir is required") {
		t.Fatalf("archive without flags: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	dir := t.TempDir()
	if code := mainErr([]string{"archive", "inspect", "--archive-dir", dir}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "binance: nothing archived under "+dir) {
		t.Fatalf("inspect of an empty archive: exit %d, out %q", code, out.String())
	}
}
