package md

import "testing"

// The hot paths allocate nothing in steady state (package doc, ADR 0005).

func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %v allocs/op, want 0", name, n)
	}
}

func TestAllocsTrade(t *testing.T) {
	trades := goldenTrades()
	buf := make([]byte, 0, 256)
	for i := range trades {
		tr := &trades[i]
		assertNoAllocs(t, "AppendTrade", func() { buf = AppendTrade(buf[:0], tr) })
	}
	d := NewDecoder()
	var got Trade
	for i := range trades {
		b := AppendTrade(nil, &trades[i])
		if err := d.DecodeTrade(&got, b); err != nil { // warm-up: interns venue and symbol
			t.Fatal(err)
		}
		assertNoAllocs(t, "DecodeTrade", func() {
			if err := d.DecodeTrade(&got, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAllocsIntegrity(t *testing.T) {
	evs := goldenIntegrity()
	buf := make([]byte, 0, 256)
	d := NewDecoder()
	var got Integrity
	for i := range evs {
		e := &evs[i]
		assertNoAllocs(t, "AppendIntegrity", func() { buf = AppendIntegrity(buf[:0], e) })
		b := AppendIntegrity(nil, e)
		if err := d.DecodeIntegrity(&got, b); err != nil {
			t.Fatal(err)
		}
		assertNoAllocs(t, "DecodeIntegrity", func() {
			if err := d.DecodeIntegrity(&got, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAllocsRaw(t *testing.T) {
	recs := goldenRaw()
	buf := make([]byte, 0, 1024)
	d := NewDecoder()
	var got RawRecord
	for i := range recs {
		r := &recs[i]
		assertNoAllocs(t, "AppendRaw", func() { buf = AppendRaw(buf[:0], r) })
		b := AppendRaw(nil, r)
		if err := d.DecodeRaw(&got, b); err != nil {
			t.Fatal(err)
		}
		assertNoAllocs(t, "DecodeRaw", func() {
			if err := d.DecodeRaw(&got, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAllocsDecimal(t *testing.T) {
	inputs := []struct {
		s     string
		scale uint8
	}{{"65000.01000000", 2}, {"0.00001234", 8}, {"123456789012.50", 2}, {"-1.5", 1}}
	buf := make([]byte, 0, 64)
	for _, in := range inputs {
		b := []byte(in.s)
		var d Decimal
		assertNoAllocs(t, "ParseDecimal", func() {
			var err error
			if d, err = ParseDecimal(b, in.scale); err != nil {
				t.Fatal(err)
			}
		})
		assertNoAllocs(t, "ParseDecimalString", func() {
			var err error
			if d, err = ParseDecimalString(in.s, in.scale); err != nil {
				t.Fatal(err)
			}
		})
		assertNoAllocs(t, "AppendText", func() { buf = d.AppendText(buf[:0]) })
	}
	// Errors are sentinels: rejecting a bad price allocates nothing either.
	bad := []byte("1.2.3")
	assertNoAllocs(t, "ParseDecimal error", func() {
		if _, err := ParseDecimal(bad, 2); err == nil {
			t.Fatal("no error")
		}
	})
}
