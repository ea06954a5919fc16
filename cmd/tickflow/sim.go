package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
)

// simFlags are the simulator settings shared by `sim` and `run --demo`.
type simFlags struct {
	addr        string
	seed        int64
	symbols     int
	rate        float64
	maxTrades   int64
	tradeLog    string
	disconnect  time.Duration
	dropRate    float64
	dupRate     float64
	malformRate float64
	pingEvery   time.Duration
}

func (s *simFlags) register(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&s.addr, prefix+"addr", "127.0.0.1:0", "simulator listen address (loopback)")
	fs.Int64Var(&s.seed, prefix+"seed", 1, "simulator seed (same seed, same market)")
	fs.IntVar(&s.symbols, prefix+"symbols", 8, "number of simulated symbols")
	fs.Float64Var(&s.rate, prefix+"rate", 200, "simulated trades per second, all symbols")
	fs.Int64Var(&s.maxTrades, prefix+"max-trades", 0, "stop trading after this many trades (0 = never)")
	fs.StringVar(&s.tradeLog, prefix+"trade-log", "", "file to log every generated trade id to")
	fs.DurationVar(&s.disconnect, prefix+"disconnect-every", 0, "fault: drop each connection after about this long")
	fs.Float64Var(&s.dropRate, prefix+"drop-rate", 0, "fault: fraction of frames dropped")
	fs.Float64Var(&s.dupRate, prefix+"dup-rate", 0, "fault: fraction of frames duplicated")
	fs.Float64Var(&s.malformRate, prefix+"malformed-rate", 0, "fault: fraction of frames garbled")
	fs.DurationVar(&s.pingEvery, prefix+"ping-every", 0, "server ping interval (default 20s, as Binance)")
}

func (s *simFlags) config(log io.Writer) (binancesim.Config, func() error, error) {
	cfg := binancesim.Config{Addr: s.addr, Seed: s.seed, Symbols: s.symbols, TradeRate: s.rate,
		MaxTrades: s.maxTrades, PingInterval: s.pingEvery,
		Faults: binancesim.Faults{DisconnectEvery: s.disconnect, DropRate: s.dropRate, DuplicateRate: s.dupRate,
			MalformedRate: s.malformRate}}
	closer := func() error { return nil }
	if s.tradeLog != "" {
		f, err := os.OpenFile(s.tradeLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return cfg, nil, fmt.Errorf("open --trade-log: %w", err)
		}
		cfg.TradeLog = f
		closer = f.Close
	}
	return cfg, closer, nil
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf simFlags
	sf.register(fs, "")
	venue := fs.String("venue", "binance", "venue to simulate (binance)")
	control := fs.String("control-addr", "", "optional loopback address serving POST /stop-trading and GET /stats")
	logLevel := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *venue != "binance" {
		return fmt.Errorf("--venue %q: only binance has a simulator so far", *venue)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg, closeLog, err := sf.config(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.Logger = log
	srv, err := binancesim.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "binance simulator: ws://%s/stream  rest: http://%s\n", srv.Addr(), srv.Addr())
	if *control != "" {
		mux := http.NewServeMux()
		stats := func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(srv.Stats())
		}
		mux.HandleFunc("POST /stop-trading", func(w http.ResponseWriter, r *http.Request) {
			srv.StopTrading()
			stats(w)
		})
		mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { stats(w) })
		hs := &http.Server{Addr: *control, Handler: mux}
		go hs.ListenAndServe()
		defer hs.Close()
	}
	<-ctx.Done()
	return nil
}
