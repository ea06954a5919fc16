package md

import (
	"errors"
	"strings"
	"testing"
)

// The enum values are part of wire codec v1 (docs/wire.md): never renumber.
func TestEnumValues(t *testing.T) {
	kinds := map[Kind]string{KindTrade: "trade", KindBookUpdate: "book", KindBBO: "bbo",
		KindCandle: "candle", KindFunding: "funding", KindOpenInterest: "open_interest",
		KindLiquidation: "liquidation", KindBookStatus: "book_status",
		KindIntegrity: "integrity", 0: "kind(0)", 42: "kind(42)"}
	for k, want := range kinds {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want)
		}
	}
	if KindTrade != 1 || KindIntegrity != 9 || KindBookStatus != 8 {
		t.Error("Kind values renumbered")
	}
	for s, want := range map[Side]string{SideUnknown: "unknown", SideBuy: "buy",
		SideSell: "sell", 7: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("Side(%d) = %q, want %q", s, got, want)
		}
	}
	if SideBuy != 1 || SideSell != 2 {
		t.Error("Side values renumbered")
	}
	for s, want := range map[Source]string{SourceLive: "live", SourceBackfill: "backfill",
		SourceReimport: "reimport"} {
		if got := s.String(); got != want {
			t.Errorf("Source(%d) = %q, want %q", s, got, want)
		}
	}
	its := map[IntegrityType]string{IntegrityGap: "gap", IntegrityDisconnect: "disconnect",
		IntegrityBackfill: "backfill", IntegrityResyncStarted: "resync_started",
		IntegrityResyncDone: "resync_done", IntegrityChecksumFailure: "checksum_failure",
		0: "integrity(0)", 200: "integrity(200)"}
	for it, want := range its {
		if got := it.String(); got != want {
			t.Errorf("IntegrityType(%d) = %q, want %q", it, got, want)
		}
	}
	if IntegrityGap != 1 || IntegrityChecksumFailure != 6 {
		t.Error("IntegrityType values renumbered")
	}
	rts := map[RawType]string{RawFrame: "frame", RawREST: "rest", RawConnect: "connect",
		RawDisconnect: "disconnect", RawSubscribe: "subscribe", RawResync: "resync",
		RawState: "state", 0: "rawtype(0)", 200: "rawtype(200)"}
	for rt, want := range rts {
		if got := rt.String(); got != want {
			t.Errorf("RawType(%d) = %q, want %q", rt, got, want)
		}
	}
	if RawFrame != 1 || RawState != 7 || DirLocal != 0 || DirIn != 1 || DirOut != 2 {
		t.Error("RawType or Direction values renumbered")
	}
}

func TestProvenanceCompare(t *testing.T) {
	ps := []Provenance{{}, {0, 0, 1}, {0, 1, 0}, {1, 0, 0}, {1, 1, 0}, {1, 1, 1},
		{1, 2, 0}, {2, 0, 0}, {^uint64(0), 0, 0}}
	for i, a := range ps {
		for j, b := range ps {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", a, b, got, want)
			}
		}
	}
	if !(Provenance{}).IsZero() || (Provenance{Index: 1}).IsZero() {
		t.Error("IsZero")
	}
}

func TestTradeID(t *testing.T) {
	n := NumericID(5312345678)
	if !n.IsNumeric() || n.String() != "5312345678" || n.Text() != nil {
		t.Errorf("numeric id: %v %q %q", n.IsNumeric(), n.String(), n.Text())
	}
	uuid := "a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b"
	id, err := TextID([]byte(uuid))
	if err != nil || id.IsNumeric() || id.String() != uuid || string(id.Text()) != uuid {
		t.Errorf("text id: %v %v %q", err, id.IsNumeric(), id.String())
	}
	if got := string(id.AppendText([]byte("id="))); got != "id="+uuid {
		t.Errorf("AppendText = %q", got)
	}
	if _, err := TextID([]byte(strings.Repeat("x", MaxIDText))); err != nil {
		t.Errorf("40-byte id: %v", err)
	}
	if _, err := TextID([]byte(strings.Repeat("x", MaxIDText+1))); !errors.Is(err, ErrIDTooLong) {
		t.Errorf("41-byte id: %v, want ErrIDTooLong", err)
	}
	if _, err := TextID(nil); err == nil {
		t.Error("empty id: no error")
	}
	// Ids are values: copies are independent and comparable.
	a := mustText("abc")
	b := a
	b.text[0] = 'x'
	if a == b || a.String() != "abc" || mustText("abc") != a || NumericID(1) == NumericID(2) {
		t.Error("TradeID value semantics")
	}
}

func TestInterner(t *testing.T) {
	in := NewInterner(2)
	a := in.Bytes([]byte("binance"))
	if b := in.Bytes([]byte("binance")); a != b || b != "binance" {
		t.Fatal("Bytes")
	}
	in.Bytes([]byte("okx"))
	in.Bytes([]byte("bybit")) // past the bound: returned, not remembered
	if len(in.m) != 2 {
		t.Errorf("interner holds %d strings, want 2", len(in.m))
	}
	if got := in.Bytes([]byte("bybit")); got != "bybit" {
		t.Errorf("Bytes past the bound = %q", got)
	}
	for _, in := range []*Interner{NewInterner(0), in} { // remembered and not
		buf := []byte("kraken")
		s := in.Bytes(buf)
		buf[0] = 'X' // the string must not alias the input
		if s != "kraken" || in.Bytes([]byte("kraken")) != "kraken" {
			t.Errorf("interned string aliases its input: %q", s)
		}
	}
	if NewInterner(0).max != 1<<16 {
		t.Error("default bound")
	}
}
