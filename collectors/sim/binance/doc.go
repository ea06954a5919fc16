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
//   - An order book per symbol (book.go): L2 price levels on the tick grid
//     with sizes on the step grid, never crossed. Each side starts with and
//     is steered towards 1000-3000 levels for the known symbols and
//     200-1000 for synthetic ones (fewer where the random walk keeps
//     sweeping, e.g. a few hundred for BTCUSDT), never more than 5000, so a
//     limit=5000 snapshot is the whole book. Each trade
//     executes against it at the touch (a taker buy at p sweeps the asks
//     below p and consumes the ask at p; a sell mirrors it) and is followed
//     by a few order-flow operations: orders joining or opening levels
//     (mostly near the touch, inside a wide spread, sometimes deep),
//     cancels near the touch, trimming of the deepest levels; a level that
//     moves into the top BookHashDepth because levels above it went is
//     re-quoted (its size grows), so it is reported on arrival. Trades are
//     the market's, unchanged; the book's random stream is per symbol, so
//     a seed gives the same sequence of book states too. Every level
//     change takes the next update id (lastUpdateId), so a depth event
//     with U..u carries u-U+1 changes, aggregated to at most one entry per
//     level with its absolute size ("0" = removed).
//   - Generation (exchange.go, depth.go): one goroutine paced every 2 ms
//     produces TradeRate*dt trades whether or not anyone is connected,
//     appends each to the per-symbol history (history.go, HistoryLimit
//     trades) and the TradeLog (tradelog.go), encodes it once (encode.go,
//     encode_depth.go: append-style, no encoding/json) and hands the shared
//     bytes to every subscribed connection; then it applies the trade and
//     its order flow to the book and publishes <symbol>@bookTicker after
//     every operation that changed the best bid or ask (u = the book's
//     update id). Every 100 ms it closes the depth interval of every
//     symbol with changes: one BookLog line, one <symbol>@depth@100ms
//     event; every tenth boundary also one <symbol>@depth (1000 ms) event
//     ending on the same u; and the partial book depth streams
//     <symbol>@depth5/10/20 (1000 ms) and @depth5/10/20@100ms
//     ({"lastUpdateId":..,"bids":..,"asks":..}, top N at that id). Each
//     event is encoded once, only if someone subscribed, and shared. When
//     generation ends (MaxTrades, StopTrading, Close) the last interval is
//     published at once.
//   - WebSocket (ws.go, wswriter.go, wsproto.go): /ws/<stream>[/<stream>...], /ws,
//     /stream?streams=a/b and /stream (combined: {"stream":..,"data":..});
//     SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and
//     GET_PROPERTY ("combined") with the documented error frames
//     {"error":{"code":N,"msg":".."},"id":..}. Data flows on <symbol>@trade,
//     @depth, @depth@100ms, @bookTicker, @depth5/10/20[@100ms]; other
//     valid stream names are accepted and listed but silent, as Binance
//     accepts them. Upper-case symbols in stream names are rejected
//     (code 2) so a collector bug is loud.
//   - REST (rest.go, rest_depth.go): /api/v3/ping, /time, /exchangeInfo,
//     /trades, /historicalTrades and /depth (symbol, limit default 100,
//     max 5000, larger served as 5000; weight 5 / 25 / 50 / 250 for limits
//     up to 100 / 500 / 1000 / 5000) with documented weights,
//     X-MBX-USED-WEIGHT-1M, and Binance's error bodies (-1003, -1100,
//     -1102, -1121). A depth snapshot is copied under the book's lock, so
//     it is consistent at its lastUpdateId and formatted like the streams.
//   - Limits (limits.go): InboundLimit messages/s per connection (text,
//     ping and pong frames; one more closes with 1008), ping every
//     PingInterval with pong deadline PongTimeout, ConnLifetime, 1024
//     streams per connection, the REST weight budget per clock minute per
//     IP (429 + Retry-After, then 418 + Retry-After for requests sent while
//     429'd, bans doubling from BanDuration up to 3 days), optional
//     ConnectLimit attempts per 5 minutes per IP.
//   - Faults (faults.go, wswriter.go): per-connection, per-frame. Trade
//     frames: DropRate, DuplicateRate. Order-book frames: DepthGapRate
//     (a diff depth event skipped: the next shows U > previous u + 1),
//     DepthDropRate (any order-book frame lost), DepthDuplicateRate (sent
//     twice: same U and u), DepthReorderRate (a diff depth event held and
//     sent after the next one of its stream). Both: MalformedRate
//     (truncated, not JSON), DisconnectEvery (clean close 1000 or TCP
//     reset), StaleEvery (silent but open). REST: SnapshotDelay (depth
//     answers late, from a lagging per-symbol snapshot, so lastUpdateId
//     can be below the U of the first event a client buffered). Faults
//     never touch the history, the books, the TradeLog or the BookLog:
//     those are the exchange's truth to compare collectors against.
//   - Stats (stats.go): counters for trades, frames, every fault kind,
//     book updates, depth batches and events, bookTicker and partial
//     depth events, REST (and REST depth) requests.
//
// # Book truth: BookLog and HashTopN
//
// Config.BookLog receives, for every depth update batch of every symbol
// (each 100 ms interval with changes, whatever the subscriptions and
// faults), one line
//
//	<SYMBOL> <u> <hash>\n      e.g. "BTCUSDT 3956538619 9f3c2a17b0d4e581\n"
//
// where u is the batch's final update id (the u of the @depth@100ms event,
// and of the @depth event at every tenth batch) and hash is 64-bit FNV-1a,
// printed as 16 lower-case hex digits, of the canonical text of the top
// BookHashDepth (default 20) levels per side after applying every update
// up to u:
//
//	<bid price>:<bid qty>;...|<ask price>:<ask qty>;...
//
// bids best (highest) first, then '|', then asks best (lowest) first, at
// most N levels per side, no spaces. Numbers are canonical decimals:
// leading zeros of the integer part removed (at least one digit kept),
// trailing zeros of the fraction removed, no '.' without fraction digits
// ("65000.01000000" -> "65000.01", "0.00120000" -> "0.0012", "100.00" ->
// "100"), so any client scale gives the same text. Example with N=2:
// "65000.01:0.5;65000:1.25;|65000.02:3;65000.05:0.001;". HashTopN(bids,
// asks, n) computes it from a client's own book (levels as decimal
// strings, best first) and AppendCanonicalDecimal gives the number form;
// a client in sync at u must produce the logged hash. Keep BookHashDepth
// within the snapshot limit clients use: a level reaches the top N either
// from inside a snapshot of at least N levels or with a depth update of
// its own (new level, or the re-quote on entering the top N), so such a
// client knows every top-N level exactly (TestDepthShallowSnapshot).
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
// is safe for concurrent use, and so is HashTopN. StopTrading waits for the
// generation goroutine to exit; Close waits for every goroutine (bounded:
// stuck connections are reset after 3 s). Config.TradeLog and
// Config.BookLog are written by the generation goroutine only; the
// BookLog is flushed every second, both when generation ends (MaxTrades,
// StopTrading or Close). Locks are never nested: Server.subMu
// (subscriptions), Server.mu (lifecycle, connection set), wsConn.mu
// (queue), each symbol's history lock, book lock (held by the generator
// while it applies one trade and its order flow, by REST while copying a
// snapshot; bookTicker frames encoded meanwhile are queued after it is
// released) and snapshot-cache lock. The generator takes only history,
// book and queue locks. With SnapshotDelay a REST depth handler waits
// for the delay, the request's end or Close.
//
// # Performance
//
// Measured on a shared 2-core VM (other jobs running) with the simulator
// in its own process and a client reading raw bytes in another: at 200
// symbols and 100k trades/s, with trade, bookTicker and depth@100ms of
// every symbol on one connection (1.08M book updates/s, 281k bookTicker
// and 2000 depth events/s, 383k frames and ~62 MB/s), the simulator
// used 0.47-0.63 core; at 150k trades/s 0.68 core; generation alone (no
// subscribers, BookLog on) 0.18 core. BenchmarkProduceWithBooks and
// BenchmarkBookUpdate (depth_bench_test.go) track the generator's share.
package binancesim
