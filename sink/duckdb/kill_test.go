//go:build unix

package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// The kill test: a child process writes batches as fast as it can and is SIGKILLed at a
// random moment, again and again. After every kill the store must be consistent: for each
// instrument the stored trades, and the stored book updates with their killLevels levels
// each, are exactly seq 1..watermark without gap or duplicate, and the stored offset covers
// exactly the stored rows (message i of the topic is trade i/killSymbols+1 of symbol
// i%killSymbols, and the book update of the same seq). The child resumes from the stored offsets and
// re-sends a random tail before them, which the watermarks must drop.
//
// TICKFLOW_KILL_ROUNDS sets the number of kills (default 6; the acceptance run uses 25).

const (
	killSymbols  = 4
	killLevels   = 6 // per book update
	killChildEnv = "TICKFLOW_KILL_CHILD_DB"
)

func TestKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("helper process for TestKillConsistency")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	offs, err := s.Offsets(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child offsets:", err)
		os.Exit(2)
	}
	next := int64(0)
	for _, o := range offs {
		next = o.Next
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	// Replay a tail of already stored messages (duplicates the watermarks must drop). The
	// committed position never goes back, as with a real consumer that resumes from the
	// stored offsets: a batch made of replayed messages only commits the stored offset.
	stored := next
	next = max(0, next-int64(rng.IntN(500)))
	b := &sink.Batch{}
	for {
		b.Reset()
		n := 1 + rng.IntN(5000)
		for i := next; i < next+int64(n); i++ {
			b.Trades = append(b.Trades, killTrade(i))
			b.Books = append(b.Books, killBook(i))
		}
		next += int64(n)
		b.Offsets = append(b.Offsets, transport.Offset{Topic: transport.TopicTrades,
			Next: max(next, stored)})
		if _, err := s.Write(ctx, b); err != nil {
			fmt.Fprintln(os.Stderr, "child write:", err)
			os.Exit(2)
		}
	}
}

func killTrade(offset int64) md.Trade {
	sym := "S" + strconv.Itoa(int(offset%killSymbols))
	seq := uint64(offset/killSymbols + 1)
	return mkTrade("binance", sym, seq, seq)
}

var (
	killBids = []md.Level{lvl(100, 1), lvl(99, 2), lvl(98, 3)}
	killAsks = []md.Level{lvl(101, 1), lvl(102, 2), lvl(103, 3)}
)

func killBook(offset int64) md.BookUpdate {
	sym := "S" + strconv.Itoa(int(offset%killSymbols))
	seq := uint64(offset/killSymbols + 1)
	return mkBook("binance", sym, seq, seq, seq == 1, killBids, killAsks)
}

func TestKillConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 6
	if v, err := strconv.Atoi(os.Getenv("TICKFLOW_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	path := filepath.Join(t.TempDir(), "kill.duckdb")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var last int64
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+path)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own: %v", round, err)
		}
		next := checkKillStore(t, path)
		t.Logf("round %d: %d messages stored", round, next)
		if next < last {
			t.Fatalf("round %d: stored offset went back from %d to %d", round, last, next)
		}
		last = next
	}
	if last == 0 {
		t.Fatal("no round committed anything")
	}
}

// checkKillStore verifies the invariants and returns the stored next offset.
func checkKillStore(t *testing.T, path string) int64 {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	offs, err := s.Offsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var next int64
	for _, o := range offs {
		next = o.Next
	}
	for sym := range killSymbols {
		// Messages 0..next-1 of this symbol.
		want := next / killSymbols
		if int64(sym) < next%killSymbols {
			want++
		}
		name := "S" + strconv.Itoa(sym)
		n := queryInt(t, s, "SELECT count(*) FROM trades WHERE symbol = ?", name)
		distinct := queryInt(t, s, "SELECT count(DISTINCT seq) FROM trades WHERE symbol = ?", name)
		maxSeq := queryInt(t, s, "SELECT coalesce(max(seq), 0) FROM trades WHERE symbol = ?", name)
		mark := queryInt(t, s, `SELECT coalesce(max(seq), 0) FROM watermarks WHERE symbol = ?`, name)
		if n != want || distinct != n || maxSeq != n || mark != n {
			t.Fatalf("%s: %d rows (%d distinct, max seq %d, watermark %d), want %d for offset %d",
				name, n, distinct, maxSeq, mark, want, next)
		}
		books := queryInt(t, s, "SELECT count(*) FROM book_updates WHERE symbol = ?", name)
		bookSeqs := queryInt(t, s, "SELECT count(DISTINCT book_seq) FROM book_updates WHERE symbol = ?", name)
		maxBook := queryInt(t, s, "SELECT coalesce(max(book_seq), 0) FROM book_updates WHERE symbol = ?", name)
		levels := queryInt(t, s, "SELECT count(*) FROM book_levels WHERE symbol = ?", name)
		bookMark := queryInt(t, s, `SELECT coalesce(max(seq), 0) FROM watermarks
			WHERE symbol = ? AND kind = 'book'`, name)
		if books != want || bookSeqs != books || maxBook != books || bookMark != books ||
			levels != killLevels*books {
			t.Fatalf("%s: %d book updates (%d distinct, max %d, watermark %d) with %d levels, "+
				"want %d updates for offset %d", name, books, bookSeqs, maxBook, bookMark, levels,
				want, next)
		}
	}
	return next
}
