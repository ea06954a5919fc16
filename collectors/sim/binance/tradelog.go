package binancesim

import (
	"bufio"
	"io"
	"log/slog"
)

// tradeLog writes lines through a buffer: "<SYMBOL> <tradeId>\n" for
// every generated trade (Config.TradeLog) or "<SYMBOL> <u> <hash>\n" for
// every depth update batch (Config.BookLog). It is used by the generation
// goroutine only; flush is called when generation ends (and every second
// for the book log). After the first write error it logs once and stops
// writing. A nil *tradeLog discards.
type tradeLog struct {
	w    *bufio.Writer
	err  error
	log  *slog.Logger
	name string
}

func newTradeLog(w io.Writer, log *slog.Logger, name string) *tradeLog {
	if w == nil {
		return nil
	}
	return &tradeLog{w: bufio.NewWriterSize(w, 256<<10), log: log, name: name}
}

// write appends already formatted lines.
func (l *tradeLog) write(lines []byte) {
	if l == nil || l.err != nil || len(lines) == 0 {
		return
	}
	if _, err := l.w.Write(lines); err != nil {
		l.fail(err)
	}
}

func (l *tradeLog) flush() {
	if l == nil || l.err != nil {
		return
	}
	if err := l.w.Flush(); err != nil {
		l.fail(err)
	}
}

func (l *tradeLog) fail(err error) {
	l.err = err
	l.log.Error(l.name+" write failed; disabled", "err", err)
}
