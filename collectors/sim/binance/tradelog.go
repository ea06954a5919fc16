package binancesim

import (
	"bufio"
	"io"
	"log/slog"
)

// tradeLog writes "<SYMBOL> <tradeId>\n" lines for every generated trade
// through a buffer. It is used by the generation goroutine only; flush is
// called when generation ends. After the first write error it logs once
// and stops writing.
type tradeLog struct {
	w   *bufio.Writer
	err error
	log *slog.Logger
}

func newTradeLog(w io.Writer, log *slog.Logger) *tradeLog {
	if w == nil {
		return nil
	}
	return &tradeLog{w: bufio.NewWriterSize(w, 256<<10), log: log}
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
	l.log.Error("trade log write failed; trade log disabled", "err", err)
}
