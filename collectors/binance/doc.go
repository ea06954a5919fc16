// Package binance is the Binance spot connector: both halves of the venue's protocol.
//
// The collector half (Session) plans connections of at most 200 symbols on the combined
// stream endpoint (/stream), records exchangeInfo on every connection, subscribes to
// <symbol>@trade, checks trade-id continuity per symbol on the wire (Binance trade ids are
// contiguous per symbol), and backfills missing ids over REST (GET /api/v3/historicalTrades,
// weight 25) under the venue's weight budget — after a gap, after a reconnect, and after a
// restart (from the last ids Kafka acknowledged, kept in a state file). Idle symbols get a
// periodic tail check (GET /api/v3/trades) so trades lost at the very end of activity are
// found too.
//
// The normalizer half (Parser) turns exchangeInfo into instruments (tick/lot scales), trade
// frames into md.Trade (source live) and REST trade lists into md.Trade (source backfill).
// It allocates nothing per trade in steady state.
//
// Time fields: ExchTime = trade time T (match time); SendTime = event time E; REST trades
// carry only "time" (ExchTime).
package binance
