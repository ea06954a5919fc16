package rerun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/tickflow/tickflow/archive/rawjson"
	"github.com/tickflow/tickflow/md"
)

// NoVenue is the report venue of lines whose venue cannot be read.
const NoVenue = "(no venue)"

// MaxLineBytes bounds one import line (a Coinbase level2 snapshot is several MB).
const MaxLineBytes = 64 << 20

// ReasonLineTooLong is the reject reason of lines longer than MaxLineBytes.
const ReasonLineTooLong = "line_too_long"

// ImportJSONL feeds every line of the import format (docs/import.md, package rawjson) read
// from in to r. Unreadable lines are counted as rejected under their rawjson reason (for
// the venue they name, else NoVenue); it returns an error only when reading in or the
// store failed.
func ImportJSONL(ctx context.Context, in io.Reader, r *Runner) error {
	br := bufio.NewReaderSize(in, 1<<20)
	var dec rawjson.Decoder
	var rec md.RawRecord
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			r.Reject(NoVenue, ReasonLineTooLong, fmt.Sprintf("line %d: longer than %d bytes", lineNo, MaxLineBytes))
			continue
		}
		if len(line) > 0 {
			derr := dec.Decode(line, &rec)
			var le *rawjson.LineError
			switch {
			case derr == nil:
				if perr := r.Process(ctx, &rec); perr != nil {
					return perr
				}
			case errors.Is(derr, rawjson.ErrSkip):
			case errors.As(derr, &le):
				r.Reject(lineVenue(line), le.Reason, fmt.Sprintf("line %d: %v", lineNo, derr))
			default:
				return derr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rerun: read line %d: %w", lineNo, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline; io.EOF with the last (unterminated)
// line. A line longer than MaxLineBytes is skipped whole and errLineTooLong returned.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return line, err
		}
		return line[:len(line)-1], nil
	}
}

var venueField = regexp.MustCompile(`"venue"\s*:\s*"([a-z0-9_.-]{1,32})"`)

// lineVenue returns the venue a (rejected, possibly truncated) line names, or NoVenue.
func lineVenue(line []byte) string {
	if m := venueField.FindSubmatch(line); m != nil {
		return string(m[1])
	}
	return NoVenue
}
