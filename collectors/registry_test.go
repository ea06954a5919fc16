package collectors

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

type fakeConnector struct{ name string }

func (f fakeConnector) Name() string                         { return f.name }
func (fakeConnector) NewSession(SessionEnv) (Session, error) { return nil, nil }
func (fakeConnector) NewParser() Parser                      { return nil }
func (fakeConnector) ParserVersion() uint16                  { return 1 }

func mustPanic(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s did not panic", what)
		}
		if !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("%s panicked with %q, want it to mention %q", what, r, want)
		}
	}()
	f()
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if got := r.Names(); len(got) != 0 {
		t.Fatalf("new registry lists %v", got)
	}
	if _, err := r.Lookup("binance"); err == nil || !strings.Contains(err.Error(), `"binance"`) || !strings.Contains(err.Error(), "[]") {
		t.Fatalf("lookup in an empty registry: %v", err)
	}
	for _, n := range []string{"okx", "binance", "kraken", "bybit"} {
		r.Register(fakeConnector{n})
	}
	want := []string{"binance", "bybit", "kraken", "okx"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	c, err := r.Lookup("kraken")
	if err != nil || c.Name() != "kraken" {
		t.Fatalf("Lookup(kraken) = %v, %v", c, err)
	}
	_, err = r.Lookup("coinbase")
	if err == nil {
		t.Fatal("unknown venue found")
	}
	if msg := err.Error(); !strings.Contains(msg, `"coinbase"`) || !strings.Contains(msg, "[binance bybit kraken okx]") {
		t.Fatalf("error %q should name the venue and list the known ones in order", msg)
	}
	mustPanic(t, "duplicate Register", "okx", func() { r.Register(fakeConnector{"okx"}) })
	mustPanic(t, "nil Register", "nil", func() { r.Register(nil) })
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("failed registrations changed the registry: %v", got)
	}
	// Names returns a copy.
	names := r.Names()
	names[0] = "zzz"
	if r.Names()[0] != "binance" {
		t.Fatal("Names aliases the registry")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			r.Register(fakeConnector{fmt.Sprintf("v%03d", i)})
		}
	}()
	for range 100 {
		_ = r.Names()
		_, _ = r.Lookup("v000")
	}
	<-done
	if n := len(r.Names()); n != 100 {
		t.Fatalf("%d names", n)
	}
}
