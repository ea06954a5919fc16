package binance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/valyala/fastjson"
)

// Venue is the venue name.
const Venue = "binance"

// Parser is the Binance normalizer half. Not goroutine-safe.
type Parser struct {
	p     fastjson.Parser
	insts map[string]*md.Instrument // by native symbol
}

var (
	_ collectors.StatefulParser = (*Parser)(nil)
	_ collectors.BookParser     = (*Parser)(nil)
)

// NewParser returns a parser that knows no instruments yet (they come from exchangeInfo
// records in raw, or from a checkpoint).
func NewParser() *Parser { return &Parser{insts: map[string]*md.Instrument{}} }

// Instrument returns the instrument of a native symbol.
func (ps *Parser) Instrument(native string) *md.Instrument { return ps.insts[native] }

// Parse implements collectors.Parser.
func (ps *Parser) Parse(rec *md.RawRecord, out *collectors.Output) error {
	switch rec.Type {
	case md.RawFrame:
		if rec.Dir != md.DirIn {
			return nil
		}
		return ps.parseFrame(rec, out)
	case md.RawREST:
		return ps.parseREST(rec, out)
	}
	return nil
}

func (ps *Parser) parseFrame(rec *md.RawRecord, out *collectors.Output) error {
	if ev, ok := scanEvent(rec.Frame); ok { // the common cases, without building a value tree
		if ev.kind == eventBookTicker {
			return ps.bboFrom(&ev, rec, out)
		}
		t, err := ps.tradeFrom(&ev.tradeFields, rec)
		if err != nil {
			return err
		}
		t.Prov.Index = uint32(len(out.Trades))
		out.Trades = append(out.Trades, t)
		return nil
	}
	v, err := ps.p.ParseBytes(rec.Frame)
	if err != nil {
		return fmt.Errorf("binance: invalid JSON frame: %w", err)
	}
	data := v
	if d := v.Get("data"); d != nil {
		data = d
	}
	if data.Type() != fastjson.TypeObject {
		return errors.New("binance: frame is not an object")
	}
	switch string(data.GetStringBytes("e")) {
	case "depthUpdate":
		return ps.depth(data, rec, out)
	case "trade":
		t, err := ps.trade(data, rec)
		if err != nil {
			return err
		}
		t.Prov.Index = uint32(len(out.Trades))
		out.Trades = append(out.Trades, t)
		return nil
	case "":
		// Replies to SUBSCRIBE ({"result":null,"id":1}) and errors ({"error":{...}}).
		if v.Exists("id") || v.Exists("result") || v.Exists("error") {
			return nil
		}
		if data.Exists("u") && data.Exists("b") && data.Exists("A") { // bookTicker has no "e"
			return ps.bookTicker(data, rec, out)
		}
		return errors.New("binance: frame has no event type")
	}
	return nil // other events (serverShutdown, ...) carry no market data
}

func (ps *Parser) trade(o *fastjson.Value, rec *md.RawRecord) (md.Trade, error) {
	tv := o.Get("t")
	if tv == nil {
		if ps.insts[string(o.GetStringBytes("s"))] == nil {
			return md.Trade{}, fmt.Errorf("binance: trade for unknown symbol %q (no exchangeInfo seen)", o.GetStringBytes("s"))
		}
		return md.Trade{}, errors.New("binance: trade without t")
	}
	id, err := tv.Uint64()
	if err != nil {
		if ps.insts[string(o.GetStringBytes("s"))] == nil {
			return md.Trade{}, fmt.Errorf("binance: trade for unknown symbol %q (no exchangeInfo seen)", o.GetStringBytes("s"))
		}
		return md.Trade{}, fmt.Errorf("binance: trade id t: %w", err)
	}
	f := tradeFields{sym: o.GetStringBytes("s"), price: o.GetStringBytes("p"), qty: o.GetStringBytes("q"), id: id,
		tradeTime: o.GetInt64("T"), eventTime: o.GetInt64("E"), buyerMaker: o.GetBool("m")}
	return ps.tradeFrom(&f, rec)
}

// tradeFrom builds the unified trade of a trade event's fields.
func (ps *Parser) tradeFrom(f *tradeFields, rec *md.RawRecord) (md.Trade, error) {
	var t md.Trade
	inst := ps.insts[string(f.sym)]
	if inst == nil {
		return t, fmt.Errorf("binance: trade for unknown symbol %q (no exchangeInfo seen)", f.sym)
	}
	var err error
	if t.Price, err = md.ParseDecimal(f.price, inst.PriceScale()); err != nil {
		return t, fmt.Errorf("binance: trade price %q: %w", f.price, err)
	}
	if t.Qty, err = md.ParseDecimal(f.qty, inst.QtyScale()); err != nil {
		return t, fmt.Errorf("binance: trade qty %q: %w", f.qty, err)
	}
	t.ID = md.NumericID(f.id)
	t.Side = md.SideBuy
	if f.buyerMaker { // buyer is maker: the taker sold
		t.Side = md.SideSell
	}
	t.Venue, t.Symbol = Venue, inst.Symbol
	t.ExchTime = f.tradeTime * 1e6
	t.SendTime = f.eventTime * 1e6
	t.RecvTime = rec.RecvTime
	t.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq}
	t.Source = md.SourceLive
	return t, nil
}

// restMeta splits "<status> <path>?<query>".
func restMeta(meta []byte) (status int, path, query []byte) {
	sp := bytes.IndexByte(meta, ' ')
	if sp < 0 {
		return 0, nil, nil
	}
	status, _ = strconv.Atoi(string(meta[:sp]))
	pq := meta[sp+1:]
	if q := bytes.IndexByte(pq, '?'); q >= 0 {
		return status, pq[:q], pq[q+1:]
	}
	return status, pq, nil
}

func queryParam(q []byte, key string) []byte {
	for len(q) > 0 {
		var kv []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, nil
		}
		if len(kv) > len(key) && kv[len(key)] == '=' && string(kv[:len(key)]) == key {
			return kv[len(key)+1:]
		}
	}
	return nil
}

func (ps *Parser) parseREST(rec *md.RawRecord, out *collectors.Output) error {
	status, path, query := restMeta(rec.Meta)
	if status != 200 {
		return nil // a failed request is documented in raw; it carries no data
	}
	switch string(path) {
	case "/api/v3/exchangeInfo":
		return ps.exchangeInfo(rec, out)
	case "/api/v3/trades", "/api/v3/historicalTrades":
		return ps.restTrades(rec, queryParam(query, "symbol"), out)
	case "/api/v3/depth":
		return ps.restDepth(rec, queryParam(query, "symbol"), queryParam(query, "limit"), out)
	}
	return nil
}

// ContinueBook is Binance spot's rule: drop u <= last; the first event after a snapshot
// must have U <= last+1 <= u, and afterwards U == last+1 (which the same test accepts).
func (ps *Parser) ContinueBook(last uint64, m *collectors.BookMsg) collectors.BookVerdict {
	switch {
	case m.LastID <= last:
		return collectors.BookSkip
	case m.FirstID <= last+1:
		return collectors.BookApply
	}
	return collectors.BookGap
}

func (ps *Parser) levels(dst []md.Level, v *fastjson.Value, inst *md.Instrument, what string) ([]md.Level, error) {
	if v == nil {
		return dst, nil
	}
	arr, err := v.Array()
	if err != nil {
		return dst, fmt.Errorf("binance: %s levels: %w", what, err)
	}
	for _, lv := range arr {
		pair, err := lv.Array()
		if err != nil || len(pair) < 2 {
			return dst, fmt.Errorf("binance: %s level is not a [price, qty] pair", what)
		}
		pb, err1 := pair[0].StringBytes()
		qb, err2 := pair[1].StringBytes()
		if err1 != nil || err2 != nil {
			return dst, fmt.Errorf("binance: %s level price/qty are not strings", what)
		}
		var l md.Level
		if l.Price, err = md.ParseDecimal(pb, inst.PriceScale()); err != nil {
			return dst, fmt.Errorf("binance: %s price %q: %w", what, pb, err)
		}
		if l.Qty, err = md.ParseDecimal(qb, inst.QtyScale()); err != nil {
			return dst, fmt.Errorf("binance: %s qty %q: %w", what, qb, err)
		}
		dst = append(dst, l)
	}
	return dst, nil
}

func (ps *Parser) depth(o *fastjson.Value, rec *md.RawRecord, out *collectors.Output) error {
	sym := o.GetStringBytes("s")
	inst := ps.insts[string(sym)]
	if inst == nil {
		return fmt.Errorf("binance: depthUpdate for unknown symbol %q (no exchangeInfo seen)", sym)
	}
	if o.Get("U") == nil || o.Get("u") == nil {
		return errors.New("binance: depthUpdate without U/u")
	}
	first, err := o.Get("U").Uint64()
	if err != nil {
		return fmt.Errorf("binance: depthUpdate U: %w", err)
	}
	last, err := o.Get("u").Uint64()
	if err != nil {
		return fmt.Errorf("binance: depthUpdate u: %w", err)
	}
	b := out.NextBook()
	if b.Bids, err = ps.levels(b.Bids, o.Get("b"), inst, "depth bid"); err != nil {
		out.Books = out.Books[:len(out.Books)-1]
		return err
	}
	if b.Asks, err = ps.levels(b.Asks, o.Get("a"), inst, "depth ask"); err != nil {
		out.Books = out.Books[:len(out.Books)-1]
		return err
	}
	b.FirstID, b.LastID = first, last
	b.Venue, b.Symbol = Venue, inst.Symbol
	b.ExchTime = o.GetInt64("E") * 1e6
	b.RecvTime = rec.RecvTime
	b.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq}
	return nil
}

func (ps *Parser) restDepth(rec *md.RawRecord, sym, limit []byte, out *collectors.Output) error {
	inst := ps.insts[string(sym)]
	if inst == nil {
		return fmt.Errorf("binance: REST depth for unknown symbol %q", sym)
	}
	v, err := ps.p.ParseBytes(rec.Frame)
	if err != nil {
		return fmt.Errorf("binance: invalid JSON REST depth: %w", err)
	}
	if v.Get("lastUpdateId") == nil {
		return errors.New("binance: REST depth without lastUpdateId")
	}
	b := out.NextBook()
	if b.Bids, err = ps.levels(b.Bids, v.Get("bids"), inst, "snapshot bid"); err != nil {
		out.Books = out.Books[:len(out.Books)-1]
		return err
	}
	if b.Asks, err = ps.levels(b.Asks, v.Get("asks"), inst, "snapshot ask"); err != nil {
		out.Books = out.Books[:len(out.Books)-1]
		return err
	}
	b.Snapshot = true
	id := v.GetUint64("lastUpdateId")
	b.FirstID, b.LastID = id, id
	n, _ := strconv.Atoi(string(limit))
	if n <= 0 {
		n = 100 // Binance's default limit
	}
	b.Depth = uint32(n)
	b.Venue, b.Symbol = Venue, inst.Symbol
	b.RecvTime = rec.RecvTime
	b.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq}
	b.Source = md.SourceBackfill
	return nil
}

func (ps *Parser) bookTicker(o *fastjson.Value, rec *md.RawRecord, out *collectors.Output) error {
	ev := flatEvent{kind: eventBookTicker, updateID: o.GetUint64("u"), bid: o.GetStringBytes("b"),
		bidQty: o.GetStringBytes("B"), ask: o.GetStringBytes("a"), askQty: o.GetStringBytes("A")}
	ev.sym = o.GetStringBytes("s")
	return ps.bboFrom(&ev, rec, out)
}

// bboFrom appends the BBO of a bookTicker event's fields.
func (ps *Parser) bboFrom(ev *flatEvent, rec *md.RawRecord, out *collectors.Output) error {
	inst := ps.insts[string(ev.sym)]
	if inst == nil {
		return fmt.Errorf("binance: bookTicker for unknown symbol %q", ev.sym)
	}
	var q md.BBO
	var err error
	if q.BidPrice, err = md.ParseDecimal(ev.bid, inst.PriceScale()); err != nil {
		return fmt.Errorf("binance: bookTicker bid %q: %w", ev.bid, err)
	}
	if q.BidQty, err = md.ParseDecimal(ev.bidQty, inst.QtyScale()); err != nil {
		return fmt.Errorf("binance: bookTicker bid qty %q: %w", ev.bidQty, err)
	}
	if q.AskPrice, err = md.ParseDecimal(ev.ask, inst.PriceScale()); err != nil {
		return fmt.Errorf("binance: bookTicker ask %q: %w", ev.ask, err)
	}
	if q.AskQty, err = md.ParseDecimal(ev.askQty, inst.QtyScale()); err != nil {
		return fmt.Errorf("binance: bookTicker ask qty %q: %w", ev.askQty, err)
	}
	q.UpdateID = ev.updateID
	q.Venue, q.Symbol = Venue, inst.Symbol
	q.RecvTime = rec.RecvTime // bookTicker carries no event time
	q.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq, Index: uint32(len(out.BBOs))}
	out.BBOs = append(out.BBOs, q)
	return nil
}

func (ps *Parser) restTrades(rec *md.RawRecord, sym []byte, out *collectors.Output) error {
	inst := ps.insts[string(sym)]
	if inst == nil {
		return fmt.Errorf("binance: REST trades for unknown symbol %q", sym)
	}
	v, err := ps.p.ParseBytes(rec.Frame)
	if err != nil {
		return fmt.Errorf("binance: invalid JSON REST trades: %w", err)
	}
	arr, err := v.Array()
	if err != nil {
		return fmt.Errorf("binance: REST trades is not an array: %w", err)
	}
	for i, o := range arr {
		var t md.Trade
		iv := o.Get("id")
		if iv == nil {
			return fmt.Errorf("binance: REST trade %d without id", i)
		}
		id, err := iv.Uint64()
		if err != nil {
			return fmt.Errorf("binance: REST trade %d id: %w", i, err)
		}
		if t.Price, err = md.ParseDecimal(o.GetStringBytes("price"), inst.PriceScale()); err != nil {
			return fmt.Errorf("binance: REST trade price %q: %w", o.GetStringBytes("price"), err)
		}
		if t.Qty, err = md.ParseDecimal(o.GetStringBytes("qty"), inst.QtyScale()); err != nil {
			return fmt.Errorf("binance: REST trade qty %q: %w", o.GetStringBytes("qty"), err)
		}
		t.ID = md.NumericID(id)
		t.Side = md.SideBuy
		if o.GetBool("isBuyerMaker") {
			t.Side = md.SideSell
		}
		t.Venue, t.Symbol = Venue, inst.Symbol
		t.ExchTime = o.GetInt64("time") * 1e6
		t.RecvTime = rec.RecvTime
		t.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq, Index: uint32(len(out.Trades))}
		t.Source = md.SourceBackfill
		out.Trades = append(out.Trades, t)
	}
	return nil
}

// exchangeInfo is the part of GET /api/v3/exchangeInfo tickflow reads.
type exchangeInfo struct {
	Symbols []struct {
		Symbol     string `json:"symbol"`
		Status     string `json:"status"`
		BaseAsset  string `json:"baseAsset"`
		QuoteAsset string `json:"quoteAsset"`
		Filters    []struct {
			FilterType string `json:"filterType"`
			TickSize   string `json:"tickSize"`
			StepSize   string `json:"stepSize"`
		} `json:"filters"`
	} `json:"symbols"`
}

// ParseExchangeInfo returns the instruments of an exchangeInfo response body.
func ParseExchangeInfo(body []byte, validFrom int64) ([]md.Instrument, error) {
	var ei exchangeInfo
	if err := json.Unmarshal(body, &ei); err != nil {
		return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	out := make([]md.Instrument, 0, len(ei.Symbols))
	for _, s := range ei.Symbols {
		if s.Symbol == "" || s.BaseAsset == "" || s.QuoteAsset == "" {
			return nil, fmt.Errorf("binance: exchangeInfo symbol %q lacks symbol, baseAsset or quoteAsset", s.Symbol)
		}
		in := md.Instrument{Venue: Venue, Native: s.Symbol, Kind: md.Spot, Base: s.BaseAsset,
			Quote: s.QuoteAsset, Status: md.Listed, ValidFrom: validFrom}
		if s.Status != "TRADING" {
			in.Status = md.Delisted
		}
		var tick, step string
		for _, f := range s.Filters {
			switch f.FilterType {
			case "PRICE_FILTER":
				tick = f.TickSize
			case "LOT_SIZE":
				step = f.StepSize
			}
		}
		if tick == "" || step == "" {
			return nil, fmt.Errorf("binance: exchangeInfo symbol %s lacks PRICE_FILTER or LOT_SIZE", s.Symbol)
		}
		var err error
		if in.TickSize, err = stepDecimal(tick); err != nil {
			return nil, fmt.Errorf("binance: %s tickSize %q: %w", s.Symbol, tick, err)
		}
		if in.LotSize, err = stepDecimal(step); err != nil {
			return nil, fmt.Errorf("binance: %s stepSize %q: %w", s.Symbol, step, err)
		}
		in.Symbol = md.UnifiedSymbol(&in)
		out = append(out, in)
	}
	return out, nil
}

func stepDecimal(s string) (md.Decimal, error) {
	sc, err := md.ScaleOf(s)
	if err != nil {
		return md.Decimal{}, err
	}
	return md.ParseDecimalString(s, sc)
}

func (ps *Parser) exchangeInfo(rec *md.RawRecord, out *collectors.Output) error {
	insts, err := ParseExchangeInfo(rec.Frame, rec.RecvTime)
	if err != nil {
		return err
	}
	for i := range insts {
		in := insts[i]
		if old := ps.insts[in.Native]; old != nil && old.TickSize == in.TickSize && old.LotSize == in.LotSize &&
			old.Status == in.Status {
			continue // unchanged: keep the version that is valid since earlier
		}
		ps.insts[in.Native] = &in
		out.Instruments = append(out.Instruments, in)
	}
	return nil
}

// MarshalState returns the parser's instruments (for normalizer checkpoints).
func (ps *Parser) MarshalState() ([]byte, error) {
	list := make([]*md.Instrument, 0, len(ps.insts))
	for _, in := range ps.insts {
		list = append(list, in)
	}
	return json.Marshal(list)
}

// UnmarshalState restores instruments saved by MarshalState.
func (ps *Parser) UnmarshalState(b []byte) error {
	var list []*md.Instrument
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("binance: restore parser state: %w", err)
	}
	ps.insts = make(map[string]*md.Instrument, len(list))
	for _, in := range list {
		ps.insts[in.Native] = in
	}
	return nil
}
