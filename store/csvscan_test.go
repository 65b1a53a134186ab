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
		s, err := ScanCSV(cr, header, 2)
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
		// Counted and located once, not a problem per row: the mapping
		// step offers a conversion instead.
		s := scan(t, "first_name,email\nAna,a@example.com\nNu\xf1ez,n@example.com\nL\xe9a,l@example.com\n")
		if s.NotUTF8 != 2 || s.FirstNotUTF8 != 3 || len(s.Problems) != 0 || s.Rows != 3 {
			t.Fatalf("got %+v", s)
		}
		if s = scan(t, "Pr\xe9nom,email\nAna,a@example.com\n"); s.NotUTF8 != 1 || s.FirstNotUTF8 != 1 {
			t.Fatalf("a header not UTF-8: got %+v", s)
		}
	})
	t.Run("ManyProblems", func(t *testing.T) {
		s := scan(t, "a,b\n"+strings.Repeat("x\n", 30))
		if len(s.Problems) != maxCSVProblems || s.More != 10 || s.Rows != 30 {
			t.Fatalf("got %d problems, %d more, %d rows", len(s.Problems), s.More, s.Rows)
		}
	})
}

func TestPreviewCSV(t *testing.T) {
	csv := "Pr\xe9nom;email\nJos\xe9;j@example.com\n\"broken;x\n"
	header, rows, err := PreviewCSV(strings.NewReader(csv), EncodingWindows1252, 5)
	if err != nil || len(header) != 2 || header[0] != "Pr\u00e9nom" || len(rows) != 1 || rows[0][0] != "Jos\u00e9" {
		t.Fatalf("got %q %q %v", header, rows, err)
	}
	if _, _, err := PreviewCSV(strings.NewReader(csv), "klingon", 5); ErrorCode(err) != EInvalid {
		t.Fatalf("unknown encoding: %v", err)
	}
}
