package store

import (
	"strings"
	"testing"
)

func TestScanCSV(t *testing.T) {
	scan := func(t *testing.T, csv string) CSVScan {
		t.Helper()
		cr, err := NewCSVReader(strings.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		header, err := ReadCSVHeader(cr)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ScanCSV(cr, len(header), 2)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("OK", func(t *testing.T) {
		s := scan(t, "first_name,email\nAna,ana@example.com\n\"Bo\nBo\",bo@example.com\nCy,cy@example.com\n")
		if s.Rows != 3 || len(s.Problems) != 0 || len(s.Preview) != 2 || s.Preview[1][0] != "Bo\nBo" {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("ErrUnbalancedQuote", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("first_name,email\n")
		for i := range 20 {
			if i == 3 {
				b.WriteString("\"Broken,broken@example.com\n")
				continue
			}
			b.WriteString("Ana,ana@example.com\n")
		}
		s := scan(t, b.String())
		if len(s.Problems) == 0 || s.Problems[0].Line != 5 {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("ErrWidth", func(t *testing.T) {
		s := scan(t, "first_name,email\nAna,ana@example.com\nBo\nCy,cy@example.com,extra\n")
		if len(s.Problems) != 2 || s.Problems[0].Line != 3 || s.Problems[1].Line != 4 || !strings.Contains(s.Problems[0].Message, "1 cells; the header has 2") {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("ErrNotUTF8", func(t *testing.T) {
		s := scan(t, "first_name,email\nNu\xf1ez,n@example.com\n")
		if len(s.Problems) != 1 || s.Problems[0].Line != 2 || !strings.Contains(s.Problems[0].Message, "not UTF-8") {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("ManyProblems", func(t *testing.T) {
		s := scan(t, "a,b\n"+strings.Repeat("x\n", 30))
		if len(s.Problems) != maxCSVProblems || s.More != 10 || s.Rows != 30 {
			t.Fatalf("got %d problems, %d more, %d rows", len(s.Problems), s.More, s.Rows)
		}
	})
}
