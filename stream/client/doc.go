// Package client is the Go SDK for tickflow's streaming gateway (package stream,
// docs/streaming.md).
//
//	c, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Token: tok, Reconnect: true})
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Subscribe(ctx, "trades:binance:BTC-USDT", "trades:*:ETH-USDT"); err != nil { ... }
//	for {
//		m, err := c.Next(ctx)
//		if err != nil { ... } // the client has ended (or ctx is done)
//		switch m.Type {
//		case client.TypeTrade:       use(m.Trade)            // md.Trade, exact decimals
//		case client.TypeIntegrity:   use(m.Integrity)        // gaps, disconnects, resyncs upstream
//		case client.TypeBookSnapshot, client.TypeBookDelta, client.TypeBookStatus:
//			book.Apply(&m)                                // see Book
//		case client.TypeBBO:         use(m.BBO)              // md.BBO
//		case client.TypeGap:         resync(m.Channel, m.Gap) // this client missed messages
//		case client.TypeReconnected: log(m.Reconnect)
//		}
//	}
//
// Book channels: keep a Book per concrete channel and feed it every message; it applies
// snapshots and deltas, checks their sequence and reports gaps (ErrBookGap):
//
//	books := map[string]*client.Book{}
//	c.Subscribe(ctx, "book:binance:BTC-USDT@20", "book:okx:*")
//	for {
//		m, err := c.Next(ctx)
//		...
//		if strings.HasPrefix(m.Channel, "book:") && books[m.Channel] == nil {
//			books[m.Channel] = client.NewBook(m.Channel)
//		}
//		for _, b := range books { // a reconnect message concerns every book
//			if err := b.Apply(&m); err != nil { ... } // ErrBookGap: resubscribe
//		}
//		if b := books[m.Channel]; b != nil && b.Valid() { use(b.Bids(), b.Asks()) }
//	}
//
// BBO channels (bbo:<venue>:<symbol>) give TypeBBO messages; a slow client gets the latest
// BBO rather than every update, so BBO sequence jumps are not reported as gaps.
//
// It owns one connection at a time, its reader goroutine, request/reply matching,
// conversion of frames into md values (prices and quantities as md.Decimal with the scale
// of the text, "0.00120000" has scale 8), per-channel sequence tracking with gap reports,
// and, with Options.Reconnect, redialing with exponential backoff and jitter and restoring
// every subscription.
//
// # Concurrency
//
// Subscribe, Unsubscribe, Ping, Subscriptions, Epoch and Close are safe for concurrent use.
// Next is for one consuming goroutine. The reader goroutine hands messages to Next through
// a buffer of Options.Buffer messages; when it is full the reader waits, which also delays
// replies to requests, so do not block the goroutine that calls Next on a request. A
// consumer that stays behind is eventually disconnected by the gateway as a slow consumer;
// Next then returns an error wrapping a *ServerError with Code CodeSlowConsumer (or, with
// Reconnect, a TypeReconnected message and TypeGap messages follow).
//
// Next must not be starved: the reader goroutine answers the gateway's pings only while it
// reads, so a consumer that does not call Next for longer than the gateway's pong timeout
// loses the connection.
package client
