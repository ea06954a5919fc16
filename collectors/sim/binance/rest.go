package binancesim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// This file serves the public REST endpoints of rest-api.md that a trade
// collector needs; GET /api/v3/depth is in rest_depth.go.

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("/ws", s.handleWS)
	mux.HandleFunc("/ws/", s.handleWS)
	mux.HandleFunc("/stream", s.handleWS)
	mux.HandleFunc("/stream/", s.handleWS)
	mux.HandleFunc("/api/v3/ping", s.rest(weightPing, s.handlePing))
	mux.HandleFunc("/api/v3/time", s.rest(weightTime, s.handleTime))
	mux.HandleFunc("/api/v3/exchangeInfo", s.rest(weightExchangeInfo, s.handleExchangeInfo))
	mux.HandleFunc("/api/v3/trades", s.rest(weightTrades, s.handleTrades))
	mux.HandleFunc("/api/v3/historicalTrades", s.rest(weightHistorical, s.handleHistoricalTrades))
	mux.HandleFunc("/api/v3/depth", s.handleDepthRoute)           // weight by limit (rest_depth.go)
	mux.HandleFunc("/api/v3/ticker/24hr", s.handleTicker24hRoute) // weight by form (rest_ticker.go)
}

// rest wraps a handler with method checking, request counting and the IP
// weight limit (X-MBX-USED-WEIGHT-1M, 429, 418 with Retry-After).
func (s *Server) rest(weight int, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.stats.restReqs.Add(1)
		if r.Method != http.MethodGet {
			writeRESTError(w, http.StatusMethodNotAllowed, -1000, "Method not allowed.")
			return
		}
		now := s.clock()
		v, used, wait, banUntil := s.weights.charge(remoteIP(r), weight, now)
		w.Header().Set("X-MBX-USED-WEIGHT-1M", strconv.Itoa(used))
		switch v {
		case verdictThrottle:
			s.stats.tooMany.Add(1)
			w.Header().Set("Retry-After", retryAfter(wait))
			writeRESTError(w, http.StatusTooManyRequests, -1003, fmt.Sprintf(
				"Too much request weight used; current limit is %d request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
				s.cfg.WeightPerMinute))
			return
		case verdictBan:
			s.stats.banned.Add(1)
			w.Header().Set("Retry-After", retryAfter(wait))
			writeRESTError(w, http.StatusTeapot, -1003, fmt.Sprintf(
				"Way too much request weight used; IP banned until %d. Please use WebSocket Streams for live updates to avoid bans.",
				banUntil.UnixMilli()))
			return
		}
		h(w, r)
	}
}

// retryAfter formats a wait as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeRESTError writes Binance's error body {"code":-1121,"msg":"..."}.
func writeRESTError(w http.ResponseWriter, status, code int, msg string) {
	m, _ := json.Marshal(msg)
	b := append([]byte(`{"code":`), strconv.Itoa(code)...)
	b = append(b, `,"msg":`...)
	b = append(b, m...)
	writeJSON(w, status, append(b, '}'))
}

func (s *Server) handlePing(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, []byte("{}"))
}

func (s *Server) handleTime(w http.ResponseWriter, _ *http.Request) {
	b := strconv.AppendInt([]byte(`{"serverTime":`), time.Now().UnixMilli(), 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// symbolParam validates the mandatory symbol parameter. On failure it has
// written the error and returns nil.
func (s *Server) symbolParam(w http.ResponseWriter, r *http.Request) *symbolState {
	name := r.URL.Query().Get("symbol")
	if name == "" {
		writeRESTError(w, http.StatusBadRequest, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
		return nil
	}
	if !validRESTSymbol(name) {
		writeRESTError(w, http.StatusBadRequest, -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.")
		return nil
	}
	sym := s.byUpper[name]
	if sym == nil {
		writeRESTError(w, http.StatusBadRequest, -1121, "Invalid symbol.")
		return nil
	}
	return sym
}

func validRESTSymbol(name string) bool {
	if len(name) < 1 || len(name) > 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// intParam parses an optional non-negative integer parameter; ok is false
// after an error was written.
func intParam(w http.ResponseWriter, r *http.Request, name string, def int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		writeRESTError(w, http.StatusBadRequest, -1100, fmt.Sprintf(
			"Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,20}$'.", name))
		return 0, false
	}
	return n, true
}

// tradeLimit reads limit: default 500, maximum 1000.
func tradeLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, ok := intParam(w, r, "limit", 500)
	if !ok {
		return 0, false
	}
	if n == 0 {
		n = 500
	}
	return int(min(n, 1000)), true
}

// handleTrades serves GET /api/v3/trades: the most recent trades, oldest first.
func (s *Server) handleTrades(w http.ResponseWriter, r *http.Request) {
	sym := s.symbolParam(w, r)
	if sym == nil {
		return
	}
	limit, ok := tradeLimit(w, r)
	if !ok {
		return
	}
	s.writeTrades(w, sym, -1, limit)
}

// handleHistoricalTrades serves GET /api/v3/historicalTrades: trades with
// id >= fromId, oldest first, or the most recent without fromId. The
// simulator keeps HistoryLimit trades per symbol: a fromId older than that
// starts at the oldest trade kept, so the first id returned exceeds fromId.
func (s *Server) handleHistoricalTrades(w http.ResponseWriter, r *http.Request) {
	sym := s.symbolParam(w, r)
	if sym == nil {
		return
	}
	limit, ok := tradeLimit(w, r)
	if !ok {
		return
	}
	from, ok := intParam(w, r, "fromId", -1)
	if !ok {
		return
	}
	s.writeTrades(w, sym, from, limit)
}

func (s *Server) writeTrades(w http.ResponseWriter, sym *symbolState, from int64, limit int) {
	recs, first := sym.hist.copyRange(make([]histRec, 0, limit), from, limit)
	b := make([]byte, 0, 2+len(recs)*160)
	b = append(b, '[')
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = sym.appendRESTTrade(b, first+int64(i), rec)
	}
	writeJSON(w, http.StatusOK, append(b, ']'))
}

// handleExchangeInfo serves GET /api/v3/exchangeInfo, optionally for
// symbol=X or symbols=["X","Y"].
func (s *Server) handleExchangeInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var pick []*symbolState
	switch {
	case q.Get("symbol") != "" && q.Get("symbols") != "":
		writeRESTError(w, http.StatusBadRequest, -1106, "Parameter 'symbols' sent when not required.")
		return
	case q.Get("symbol") != "":
		if sym := s.symbolParam(w, r); sym == nil {
			return
		} else {
			pick = []*symbolState{sym}
		}
	case q.Get("symbols") != "":
		var names []string
		if err := json.Unmarshal([]byte(q.Get("symbols")), &names); err != nil || len(names) == 0 {
			writeRESTError(w, http.StatusBadRequest, -1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
			return
		}
		for _, n := range names {
			sym := s.byUpper[n]
			if sym == nil {
				writeRESTError(w, http.StatusBadRequest, -1121, "Invalid symbol.")
				return
			}
			pick = append(pick, sym)
		}
	default:
		pick = s.syms
	}
	writeJSON(w, http.StatusOK, s.exInfo.render(pick, time.Now().UnixMilli()))
}

// exchangeInfoCache holds the JSON of every symbol object, built once.
type exchangeInfoCache struct {
	head    []byte // {"timezone":"UTC","serverTime":
	tail    []byte // ,"rateLimits":[...],"exchangeFilters":[],"symbols":[
	symbols [][]byte
}

type rateLimitJSON struct {
	RateLimitType string `json:"rateLimitType"`
	Interval      string `json:"interval"`
	IntervalNum   int    `json:"intervalNum"`
	Limit         int    `json:"limit"`
}

type priceFilterJSON struct {
	FilterType string `json:"filterType"`
	MinPrice   string `json:"minPrice"`
	MaxPrice   string `json:"maxPrice"`
	TickSize   string `json:"tickSize"`
}

type lotSizeJSON struct {
	FilterType string `json:"filterType"`
	MinQty     string `json:"minQty"`
	MaxQty     string `json:"maxQty"`
	StepSize   string `json:"stepSize"`
}

type limitFilterJSON struct {
	FilterType string `json:"filterType"`
	Limit      int    `json:"limit"`
}

type notionalJSON struct {
	FilterType       string `json:"filterType"`
	MinNotional      string `json:"minNotional"`
	ApplyMinToMarket bool   `json:"applyMinToMarket"`
	MaxNotional      string `json:"maxNotional"`
	ApplyMaxToMarket bool   `json:"applyMaxToMarket"`
	AvgPriceMins     int    `json:"avgPriceMins"`
}

type maxOrdersJSON struct {
	FilterType   string `json:"filterType"`
	MaxNumOrders int    `json:"maxNumOrders"`
}

type maxAlgoOrdersJSON struct {
	FilterType       string `json:"filterType"`
	MaxNumAlgoOrders int    `json:"maxNumAlgoOrders"`
}

type symbolJSON struct {
	Symbol                          string     `json:"symbol"`
	Status                          string     `json:"status"`
	BaseAsset                       string     `json:"baseAsset"`
	BaseAssetPrecision              int        `json:"baseAssetPrecision"`
	QuoteAsset                      string     `json:"quoteAsset"`
	QuotePrecision                  int        `json:"quotePrecision"`
	QuoteAssetPrecision             int        `json:"quoteAssetPrecision"`
	BaseCommissionPrecision         int        `json:"baseCommissionPrecision"`
	QuoteCommissionPrecision        int        `json:"quoteCommissionPrecision"`
	OrderTypes                      []string   `json:"orderTypes"`
	IcebergAllowed                  bool       `json:"icebergAllowed"`
	OcoAllowed                      bool       `json:"ocoAllowed"`
	OtoAllowed                      bool       `json:"otoAllowed"`
	QuoteOrderQtyMarketAllowed      bool       `json:"quoteOrderQtyMarketAllowed"`
	AllowTrailingStop               bool       `json:"allowTrailingStop"`
	CancelReplaceAllowed            bool       `json:"cancelReplaceAllowed"`
	AmendAllowed                    bool       `json:"amendAllowed"`
	PegInstructionsAllowed          bool       `json:"pegInstructionsAllowed"`
	IsSpotTradingAllowed            bool       `json:"isSpotTradingAllowed"`
	IsMarginTradingAllowed          bool       `json:"isMarginTradingAllowed"`
	Filters                         []any      `json:"filters"`
	Permissions                     []string   `json:"permissions"`
	PermissionSets                  [][]string `json:"permissionSets"`
	DefaultSelfTradePreventionMode  string     `json:"defaultSelfTradePreventionMode"`
	AllowedSelfTradePreventionModes []string   `json:"allowedSelfTradePreventionModes"`
}

func (e *exchangeInfoCache) build(syms []*symbolState, weightPerMinute int) error {
	limits, err := json.Marshal([]rateLimitJSON{
		{"REQUEST_WEIGHT", "MINUTE", 1, weightPerMinute},
		{"ORDERS", "SECOND", 10, 100},
		{"ORDERS", "DAY", 1, 200000},
		{"RAW_REQUESTS", "MINUTE", 5, 61000},
	})
	if err != nil {
		return err
	}
	e.head = []byte(`{"timezone":"UTC","serverTime":`)
	e.tail = append(append([]byte(`,"rateLimits":`), limits...), `,"exchangeFilters":[],"symbols":[`...)
	e.symbols = make([][]byte, len(syms))
	for i, s := range syms {
		b, err := json.Marshal(s.exchangeInfoJSON())
		if err != nil {
			return fmt.Errorf("symbol %s: %w", s.inst.Symbol, err)
		}
		e.symbols[i] = b
	}
	return nil
}

func (e *exchangeInfoCache) render(pick []*symbolState, serverTime int64) []byte {
	n := len(e.head) + len(e.tail) + 32
	for _, s := range pick {
		n += len(e.symbols[s.index]) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, e.head...)
	b = strconv.AppendInt(b, serverTime, 10)
	b = append(b, e.tail...)
	for i, s := range pick {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.symbols[s.index]...)
	}
	return append(b, "]}"...)
}

// exchangeInfoJSON is the symbol object of /api/v3/exchangeInfo.
func (s *symbolState) exchangeInfoJSON() symbolJSON {
	qp, bp := s.inst.QuotePrecision, s.inst.BasePrecision
	maxPriceDec := min(int(math.Ceil(math.Log10(float64(s.maxTicks)*100))), 18)
	maxPrice := string(appendFixed(nil, pow10i[maxPriceDec], s.tickDec, qp))
	maxQtyDec := min(int(math.Ceil(math.Log10(float64(s.maxSteps)*10))), 18)
	maxQty := string(appendFixed(nil, pow10i[maxQtyDec], s.stepDec, bp))
	return symbolJSON{
		Symbol:                   s.inst.Symbol,
		Status:                   "TRADING",
		BaseAsset:                s.inst.Base,
		BaseAssetPrecision:       bp,
		QuoteAsset:               s.inst.Quote,
		QuotePrecision:           qp,
		QuoteAssetPrecision:      qp,
		BaseCommissionPrecision:  bp,
		QuoteCommissionPrecision: qp,
		OrderTypes: []string{"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS",
			"STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"},
		IcebergAllowed:             true,
		OcoAllowed:                 true,
		OtoAllowed:                 true,
		QuoteOrderQtyMarketAllowed: true,
		AllowTrailingStop:          true,
		CancelReplaceAllowed:       true,
		AmendAllowed:               true,
		PegInstructionsAllowed:     true,
		IsSpotTradingAllowed:       true,
		IsMarginTradingAllowed:     s.index < len(knownSymbols),
		Filters: []any{
			priceFilterJSON{"PRICE_FILTER", s.inst.TickSize, maxPrice, s.inst.TickSize},
			lotSizeJSON{"LOT_SIZE", s.inst.StepSize, maxQty, s.inst.StepSize},
			limitFilterJSON{"ICEBERG_PARTS", 10},
			lotSizeJSON{"MARKET_LOT_SIZE", string(appendFixed(nil, 0, 0, bp)), maxQty, string(appendFixed(nil, 0, 0, bp))},
			notionalJSON{"NOTIONAL", "5.00000000", true, "9000000.00000000", false, 5},
			maxOrdersJSON{"MAX_NUM_ORDERS", 200},
			maxAlgoOrdersJSON{"MAX_NUM_ALGO_ORDERS", 5},
		},
		Permissions:                     []string{},
		PermissionSets:                  [][]string{{"SPOT"}},
		DefaultSelfTradePreventionMode:  "EXPIRE_MAKER",
		AllowedSelfTradePreventionModes: []string{"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"},
	}
}
