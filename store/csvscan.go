package store

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
)

// CSVProblem is a structural problem of a CSV file, at a line of it.
type CSVProblem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// maxCSVProblems bounds the problems a scan reports; the rest are counted.
const maxCSVProblems = 20

// longQuotedField is how many lines a quoted cell may span before a scan
// calls it a probable unbalanced quote (which swallows the rows after it).
const longQuotedField = 5

// CSVScan is what a reading of a whole CSV file found before its import:
// the data rows as an import will read them, and what is wrong with its
// structure, with line numbers.
type CSVScan struct {
	Rows     int
	Preview  [][]string // the first rows that could be read
	Problems []CSVProblem
	More     int // problems found beyond those listed
	// NotUTF8 counts the rows (the header is row 0) with text that is not
	// UTF-8, FirstNotUTF8 is the line of the first: such a file is offered
	// a conversion rather than a problem per row.
	NotUTF8      int
	FirstNotUTF8 int
}

// ScanCSV reads every row of cr after its header, keeps the first preview
// ones, and reports the structural problems an import would otherwise meet
// row by row, or not at all: cells that cannot be parsed, rows with another
// number of cells than the header, a quoted cell running over many lines
// (an unbalanced quote swallows the rows after it); and where the text is
// not UTF-8.
func ScanCSV(cr *csv.Reader, header []string, preview int) (CSVScan, error) {
	var s CSVScan
	width := len(header)
	if slices.ContainsFunc(header, notUTF8) {
		s.markNotUTF8(1)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		s.Rows++
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			s.add(pe.StartLine, fmt.Sprintf("The CSV cannot be read here: %v. Check the quotes on this line.", pe.Err))
			continue
		}
		if err != nil {
			return s, err
		}
		if len(s.Preview) < preview {
			s.Preview = append(s.Preview, slices.Clone(rec))
		}
		start, _ := cr.FieldPos(0)
		end, _ := cr.FieldPos(len(rec) - 1)
		switch {
		case len(rec) != width:
			s.add(start, fmt.Sprintf("This row has %d cells; the header has %d.", len(rec), width))
		case end-start >= longQuotedField:
			s.add(start, fmt.Sprintf("A quoted cell runs from line %d to line %d: probably a missing closing quote, which takes the rows after it into one cell.", start, end))
		}
		if slices.ContainsFunc(rec, notUTF8) {
			s.markNotUTF8(start)
		}
	}
}

func (s *CSVScan) markNotUTF8(line int) {
	if s.NotUTF8 == 0 {
		s.FirstNotUTF8 = line
	}
	s.NotUTF8++
}

func (s *CSVScan) add(line int, msg string) {
	if len(s.Problems) < maxCSVProblems {
		s.Problems = append(s.Problems, CSVProblem{Line: line, Message: msg})
		return
	}
	s.More++
}

// PreviewCSV reads the header and the first n rows that can be read of a
// CSV in the encoding enc (see DecodeCSV): the mapping step's view of a
// file whose rows ScanCSV has counted.
func PreviewCSV(r io.Reader, enc string, n int) (header []string, rows [][]string, err error) {
	if r, err = DecodeCSV(r, enc); err != nil {
		return nil, nil, err
	}
	cr, err := NewCSVReader(r)
	if err != nil {
		return nil, nil, err
	}
	if header, err = ReadCSVHeader(cr); err != nil {
		return nil, nil, err
	}
	for len(rows) < n {
		rec, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return header, rows, nil
		case errors.As(err, &pe):
			continue
		case err != nil:
			return nil, nil, err
		}
		rows = append(rows, slices.Clone(rec))
	}
	return header, rows, nil
}
