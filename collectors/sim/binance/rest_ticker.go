package binancesim

import (
	"net/http"
	"strconv"
)

// weightTicker24hAll is the documented weight of GET /api/v3/ticker/24hr without a symbol
// (40 with 1-20 symbols, 80 for all); weightTicker24hOne with one symbol.
const (
	weightTicker24hAll = 80
	weightTicker24hOne = 2
)

// handleTicker24hRoute charges the weight the request's form implies.
func (s *Server) handleTicker24hRoute(w http.ResponseWriter, r *http.Request) {
	weight := weightTicker24hAll
	if r.URL.Query().Get("symbol") != "" {
		weight = weightTicker24hOne
	}
	s.rest(weight, s.handleTicker24h)(w, r)
}

// handleTicker24h serves GET /api/v3/ticker/24hr. Only the identity fields are meaningful:
// symbol, firstId, lastId and count of the trades held (collectors use lastId to baseline
// their capture); -1 ids when a symbol has no trades, as Binance documents.
func (s *Server) handleTicker24h(w http.ResponseWriter, r *http.Request) {
	one := r.URL.Query().Get("symbol")
	var buf []byte
	appendOne := func(sym *symbolState) {
		first, last, ok := sym.hist.bounds()
		count := int64(0)
		if !ok {
			first, last = -1, -1
		} else {
			count = last - first + 1
		}
		buf = append(buf, `{"symbol":"`...)
		buf = append(buf, sym.inst.Symbol...)
		buf = append(buf, `","firstId":`...)
		buf = strconv.AppendInt(buf, first, 10)
		buf = append(buf, `,"lastId":`...)
		buf = strconv.AppendInt(buf, last, 10)
		buf = append(buf, `,"count":`...)
		buf = strconv.AppendInt(buf, count, 10)
		buf = append(buf, '}')
	}
	if one != "" {
		sym := s.byUpper[one]
		if sym == nil {
			writeRESTError(w, http.StatusBadRequest, -1121, "Invalid symbol.")
			return
		}
		appendOne(sym)
	} else {
		buf = append(buf, '[')
		for i, sym := range s.syms {
			if i > 0 {
				buf = append(buf, ',')
			}
			appendOne(sym)
		}
		buf = append(buf, ']')
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(buf)
}
