// Package binancesim is a simulated Binance spot exchange for tests and
// local runs: real collectors connect to it over loopback and it speaks
// Binance's published WebSocket stream and REST messages
// (binance-spot-api-docs: web-socket-streams.md, rest-api.md, errors.md).
//
// # What it owns
//
//   - A deterministic market (market.go, symbols.go): from Config.Seed the
//     same instruments, trade ids, prices, sizes and sides every run
//     (timestamps are wall-clock). BTCUSDT comes first, then a meme coin
//     (PEPEUSDT: 8-decimal prices, integer sizes around 1e10-1e11), then
//     ETHUSDT, SOLUSDT, BNBUSDT, XRPUSDT, DOGEUSDT, ... and beyond the known
//     list synthetic SYM0042USDT names with varied scales. Prices random-walk
//     on the tick grid, sizes are log-normal on the step grid; trade ids are
//     contiguous per symbol.
//   - Generation (exchange.go): one goroutine paced every 2 ms produces
//     TradeRate*dt trades whether or not anyone is connected, appends each
//     to the per-symbol history (history.go, HistoryLimit trades) and the
//     TradeLog (tradelog.go), encodes it once (encode.go, strconv.Append*,
//     no encoding/json) and hands the shared bytes to every subscribed
//     connection.
//   - WebSocket (ws.go, wswriter.go, wsproto.go): /ws/<stream>[/<stream>...], /ws,
//     /stream?streams=a/b and /stream (combined: {"stream":..,"data":..});
//     SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and
//     GET_PROPERTY ("combined") with the documented error frames
//     {"error":{"code":N,"msg":".."},"id":..}. Only <symbol>@trade carries
//     data today; other valid stream names are accepted and listed but
//     silent, as Binance accepts them. Upper-case symbols in stream names
//     are rejected (code 2) so a collector bug is loud.
//   - REST (rest.go): /api/v3/ping, /time, /exchangeInfo, /trades and
//     /historicalTrades with documented weights, X-MBX-USED-WEIGHT-1M, and
//     Binance's error bodies (-1003, -1100, -1102, -1121).
//   - Limits (limits.go): InboundLimit messages/s per connection (text,
//     ping and pong frames; one more closes with 1008), ping every
//     PingInterval with pong deadline PongTimeout, ConnLifetime, 1024
//     streams per connection, the REST weight budget per clock minute per
//     IP (429 + Retry-After, then 418 + Retry-After for requests sent while
//     429'd, bans doubling from BanDuration up to 3 days), optional
//     ConnectLimit attempts per 5 minutes per IP.
//   - Faults (faults.go): per-connection, per-frame drop, duplicate and
//     malformed market-data frames, DisconnectEvery (clean close 1000 or TCP
//     reset) and StaleEvery (silent but open). Faults never touch the
//     history or the TradeLog: those are the exchange's truth to compare
//     collectors against.
//
// # Connections and backpressure
//
// Each connection has a reader goroutine (requests, control frames, inbound
// limit) and a writer goroutine that owns every write: it drains the
// connection's bounded queue (Config.SendQueue frames), applies faults,
// frames the messages itself into one buffered write per batch, and runs
// the ping, pong-deadline, lifetime and fault timers. The generator never
// blocks on a connection: when a queue is full the connection is closed as
// a slow consumer (TCP reset), like Binance does. Close codes: 1000
// lifetime or fault clean close, 1001 server shutdown (after a
// serverShutdown event), 1008 inbound limit; pong timeout, slow consumer
// and fault drops reset the TCP connection.
//
// # Goroutine safety and blocking
//
// New does no I/O and starts no goroutines. Every exported method of Server
// is safe for concurrent use. StopTrading waits for the generation goroutine
// to exit; Close waits for every goroutine (bounded: stuck connections are
// reset after 3 s). Config.TradeLog is written by the generation goroutine
// only and flushed when generation ends (MaxTrades, StopTrading or Close).
// Locks are never nested: Server.subMu (subscriptions), Server.mu
// (lifecycle, connection set), wsConn.mu (queue) and each symbol's history
// lock. The generator takes only history and queue locks.
//
// # Adding depth and bookTicker
//
// An order book per symbol belongs in symbolState (book.go), advanced by
// the generator in the same tick as trades; each new stream kind gets a
// constant beside kindTrade (ws.go), a case in parseStream, an encoder in
// encode.go and a subscriber list in symbolState.subs; GET /api/v3/depth
// gets a route in rest.go with the documented limit-based weights.
package binancesim
