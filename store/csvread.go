package store

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
)

// Reading CSV as people export it: the reader, the header row and its
// limits, and reading ahead.

// Limits on a CSV's header row, checked before an import is set up: the
// mapping step shows a row per column, so an unbounded header (a 1 MB file
// of 500,000 columns) made an unbounded page.
const (
	MaxCSVColumns     = 200      // columns in the header
	MaxCSVHeaderBytes = 64 << 10 // the header line
	MaxCSVColumnName  = 256      // bytes of one column name
)

// NewCSVReader reads CSV as people export it: UTF-8 with or without a BOM,
// separated by "," or ";" (whichever the header line has more of), with
// quoted fields that may hold newlines. A header line longer than
// MaxCSVHeaderBytes is refused before it is parsed.
func NewCSVReader(r io.Reader) (*csv.Reader, error) {
	// Room for the longest header line allowed and its "\r\n".
	br := bufio.NewReaderSize(r, MaxCSVHeaderBytes+2)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	if len(bytes.TrimSuffix(line, []byte{'\r'})) > MaxCSVHeaderBytes {
		return nil, errHeaderTooLong()
	}
	cr := csv.NewReader(br)
	if bytes.Count(line, []byte{';'}) > bytes.Count(line, []byte{','}) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1 // short rows are reported per row, not fatal
	cr.ReuseRecord = true
	return cr, nil
}

// ReadCSVHeader reads the header row of cr and checks it against the
// limits above, so an import refuses a header nobody could map before any
// job or transaction exists.
func ReadCSVHeader(cr *csv.Reader) ([]string, error) {
	header, err := cr.Read()
	if err != nil || len(header) == 0 {
		return nil, Errorf(EInvalid, "The file has no header row; the first line must name the columns.")
	}
	// A quoted name may hold newlines, so the line check of NewCSVReader
	// alone does not bound the row.
	if cr.InputOffset() > MaxCSVHeaderBytes+2 {
		return nil, errHeaderTooLong()
	}
	if len(header) > MaxCSVColumns {
		return nil, Errorf(EInvalid, "The file has %d columns; an import takes at most %d columns.", len(header), MaxCSVColumns)
	}
	for i, name := range header {
		if len(name) > MaxCSVColumnName {
			return nil, Errorf(EInvalid, "The name of column %d is longer than %d bytes; shorten it.", i+1, MaxCSVColumnName)
		}
	}
	return append([]string(nil), header...), nil
}

func errHeaderTooLong() error {
	return Errorf(EInvalid, "The header line is longer than %d KiB; an import takes at most %d columns.", MaxCSVHeaderBytes>>10, MaxCSVColumns)
}

// readAhead reads up to n records (copies: the reader reuses its slice)
// and reports whether that was the whole file.
func readAhead(cr *csv.Reader, n int) ([]csvRecord, bool, error) {
	var head []csvRecord
	for len(head) < n {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return head, true, nil
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return nil, false, err
		}
		r := csvRecord{fields: append([]string(nil), rec...), err: err}
		if err == nil {
			r.line, _ = cr.FieldPos(0)
		}
		head = append(head, r)
	}
	return head, false, nil
}

// csvRecord is a record read ahead, or the parse error in its place.
type csvRecord struct {
	fields []string
	line   int // where it starts in the file
	err    error
}
