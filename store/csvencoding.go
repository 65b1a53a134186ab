package store

import (
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// The text encodings a CSV import reads. Files are UTF-8; the others are
// what spreadsheets on Windows save as "CSV" when not told otherwise.
const (
	// EncodingUTF8Strict is no encoding given: the file must be UTF-8, and
	// one that is not is refused whole, naming its first line that is not.
	EncodingUTF8Strict = ""
	// EncodingUTF8 reads the file as UTF-8 as it is: a row whose cells are
	// not UTF-8 is refused on its own, into the error report.
	EncodingUTF8 = "utf-8"
	// EncodingWindows1252 converts from Windows-1252, the Western code page
	// of Windows (Excel's "CSV" on a Western European Windows).
	EncodingWindows1252 = "windows-1252"
	// EncodingLatin1 converts from ISO-8859-1 (Latin-1).
	EncodingLatin1 = "iso-8859-1"
)

// CSVEncodings are the encodings a file that is not UTF-8 can be read as,
// in the order the mapping step offers them.
var CSVEncodings = []string{EncodingUTF8, EncodingWindows1252, EncodingLatin1}

// LegacyEncoding is the conversion proposed for a file that is not UTF-8.
// Windows-1252 and Latin-1 agree on every byte that Latin-1 prints
// (0x20–0x7E, 0xA0–0xFF); they differ only on 0x80–0x9F, which Latin-1
// makes invisible control characters (refused in every field) and
// Windows-1252 makes € ‚ „ … ‘ ’ “ ” – — ™ Š š Œ œ Ž ž Ÿ. So a true Latin-1
// file reads the same either way, and a Windows file, the common case,
// reads right only as Windows-1252.
const LegacyEncoding = EncodingWindows1252

// EncodingName is how the pages name an encoding.
func EncodingName(enc string) string {
	switch enc {
	case EncodingUTF8, EncodingUTF8Strict:
		return "UTF-8"
	case EncodingWindows1252:
		return "Windows-1252"
	case EncodingLatin1:
		return "ISO-8859-1 (Latin-1)"
	}
	return enc
}

// ParseEncoding checks an encoding a request names, in any letter case;
// "" is strict UTF-8.
func ParseEncoding(s string) (string, error) {
	enc := strings.ToLower(strings.TrimSpace(s))
	switch enc {
	case "utf8":
		enc = EncodingUTF8
	case "latin-1", "latin1", "iso8859-1":
		enc = EncodingLatin1
	case "cp1252":
		enc = EncodingWindows1252
	}
	if enc == EncodingUTF8Strict || slices.Contains(CSVEncodings, enc) {
		return enc, nil
	}
	return "", Errorf(EInvalid, "%q is not an encoding an import reads: use utf-8, windows-1252 or iso-8859-1.", s)
}

// DecodeCSV returns r converted to UTF-8 from enc (one of CSVEncodings, or
// strict UTF-8). The conversions are byte for byte, and keep every ASCII
// byte as it is: the separators, quotes and line ends, so a file has the
// same rows, lines and problems in every encoding, only other text in
// them.
func DecodeCSV(r io.Reader, enc string) (io.Reader, error) {
	enc, err := ParseEncoding(enc)
	if err != nil {
		return nil, err
	}
	switch enc {
	case EncodingWindows1252:
		return charmap.Windows1252.NewDecoder().Reader(r), nil
	case EncodingLatin1:
		return charmap.ISO8859_1.NewDecoder().Reader(r), nil
	}
	return r, nil
}

func notUTF8(cell string) bool { return !utf8.ValidString(cell) }

// errNotUTF8 refuses a file that is not UTF-8 and names no encoding.
func errNotUTF8(line int) error {
	return Errorf(EInvalid, "Line %d is not UTF-8 text. Save the file as UTF-8, or name its encoding to convert it from: encoding=windows-1252 (Excel on Windows) or encoding=iso-8859-1.", line)
}
