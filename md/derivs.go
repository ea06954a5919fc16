package md

import "encoding/binary"

// Derivatives events: funding rates, open interest and liquidations (kinds 5, 6 and 7).
// Their wire bodies are specified in docs/wire.md sections 2.4-2.6; like every body they may
// grow by appended fields within v1, which older decoders skip.
//
// Event ids (ADR 0003): none of the three carries a venue id that identifies it, so their id
// is the provenance (venue, symbol, epoch, seq, index), like book messages.

// Funding is a perpetual swap's funding rate as published by the venue: the rate of the
// current (or just settled) funding interval, with the mark and index prices it was quoted
// with where the venue sends them (Binance markPriceUpdate: r, p, i, T).
type Funding struct {
	Header
	// Rate is the funding rate per interval (0.0001 = 0.01%); longs pay shorts when positive.
	Rate Decimal
	// MarkPrice and IndexPrice are the venue's mark and index prices at the instrument's
	// price scale; zero (Mant 0, Scale 0) when the venue does not send them.
	MarkPrice  Decimal
	IndexPrice Decimal
	// FundingTime is when Rate applies (is settled), Unix ns; 0 if unknown.
	FundingTime int64
	// NextFundingTime is the settlement time of the following interval, Unix ns; 0 if
	// unknown.
	NextFundingTime int64
}

// OpenInterest is the total size of open contracts of a derivative at a moment.
type OpenInterest struct {
	Header
	// Qty is the open interest in the instrument's quantity unit (contracts or base asset,
	// as its lot size), at the quantity scale.
	Qty Decimal
	// Value is the open interest's notional in the quote (settle) currency where the venue
	// sends it; zero (Mant 0, Scale 0) when it does not.
	Value Decimal
}

// Liquidation is a forced order the venue executed to close a position (Binance forceOrder,
// Bybit allLiquidation, OKX liquidation-orders).
type Liquidation struct {
	Header
	// Side is the side of the liquidation order: SideSell closes a long position, SideBuy a
	// short one. SideUnknown when the venue does not say.
	Side Side
	// Price is the liquidation order's price (Binance: average fill price when given, else
	// the order price), at the price scale.
	Price Decimal
	// Qty is the liquidated quantity at the quantity scale.
	Qty Decimal
}

// AppendFunding appends the wire encoding of f to dst and returns it. It does not allocate
// when dst has room.
func AppendFunding(dst []byte, f *Funding) []byte {
	dst = appendHeader(dst, KindFunding, &f.Header)
	dst, s := bodyStart(dst)
	dst = appendDecimal(dst, f.Rate)
	dst = appendDecimal(dst, f.MarkPrice)
	dst = appendDecimal(dst, f.IndexPrice)
	dst = binary.AppendVarint(dst, f.FundingTime)
	dst = binary.AppendVarint(dst, f.NextFundingTime)
	return finishBody(dst, s)
}

// AppendOpenInterest appends the wire encoding of o to dst and returns it. It does not
// allocate when dst has room.
func AppendOpenInterest(dst []byte, o *OpenInterest) []byte {
	dst = appendHeader(dst, KindOpenInterest, &o.Header)
	dst, s := bodyStart(dst)
	dst = appendDecimal(dst, o.Qty)
	dst = appendDecimal(dst, o.Value)
	return finishBody(dst, s)
}

// AppendLiquidation appends the wire encoding of l to dst and returns it. It does not
// allocate when dst has room.
func AppendLiquidation(dst []byte, l *Liquidation) []byte {
	dst = appendHeader(dst, KindLiquidation, &l.Header)
	dst, s := bodyStart(dst)
	dst = append(dst, byte(l.Side))
	dst = appendDecimal(dst, l.Price)
	dst = appendDecimal(dst, l.Qty)
	return finishBody(dst, s)
}

// DecodeFunding decodes a wire-encoded funding event into f. It does not allocate in steady
// state (venue and symbol are interned).
func (d *Decoder) DecodeFunding(f *Funding, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindFunding, &f.Header)
	body := r.body()
	f.Rate = body.decimal()
	f.MarkPrice = body.decimal()
	f.IndexPrice = body.decimal()
	f.FundingTime = body.varint()
	f.NextFundingTime = body.varint()
	return firstErr(r.err, body.err, "funding")
}

// DecodeOpenInterest decodes a wire-encoded open-interest event into o. It does not
// allocate in steady state.
func (d *Decoder) DecodeOpenInterest(o *OpenInterest, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindOpenInterest, &o.Header)
	body := r.body()
	o.Qty = body.decimal()
	o.Value = body.decimal()
	return firstErr(r.err, body.err, "open interest")
}

// DecodeLiquidation decodes a wire-encoded liquidation into l. It does not allocate in
// steady state.
func (d *Decoder) DecodeLiquidation(l *Liquidation, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindLiquidation, &l.Header)
	body := r.body()
	l.Side = Side(body.byte())
	l.Price = body.decimal()
	l.Qty = body.decimal()
	return firstErr(r.err, body.err, "liquidation")
}
