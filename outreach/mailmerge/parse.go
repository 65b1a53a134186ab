// Package mailmerge is the template language of outreach emails: a subject
// and a body with merge fields such as {{first_name}}, {{custom.tier}} and
// {{first_name | "there"}} (a fallback used when the value is empty).
//
// The language is small on purpose: a workspace's staff write these
// templates, and rendering one for thousands of contacts must not run long
// or grow without bound. There are no loops, conditions or functions; a
// template is text and fields, both sizes are bounded, and it is parsed
// once into a list of segments that Render walks in one pass.
//
// The package imports nothing of Atrium, so store can refuse a bad template
// at save while the sending code (which uses store) renders it.
package mailmerge

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a template. Bodies are bytes, subjects characters.
const (
	MaxSubject  = 300       // characters of a subject
	MaxBody     = 100 << 10 // bytes of a body
	MaxFields   = 1000      // merge fields in a body
	MaxFallback = 200       // characters of a fallback text
)

// Fields are the fixed merge fields, in the order they are listed to
// people. Custom fields are "custom.<key>".
var Fields = []string{"first_name", "last_name", "company", "title", "email"}

// Known is what a template may name: the fixed fields and the keys of the
// workspace's contact custom fields. AnyCustom accepts every custom key;
// it is for rendering a saved template whose custom field was deleted
// since (the field renders empty, or as its fallback).
type Known struct {
	Custom    []string
	AnyCustom bool
}

// Error is a mistake in a template, with where it is (both from 1; the
// column counts characters) and a message for the person who wrote it.
type Error struct {
	Part    string // "subject" or "body"
	Line    int
	Column  int
	Message string
}

// Error reads "Line 3, column 14: …"; a subject is one line, so it says
// only the column.
func (e *Error) Error() string {
	if e.Part == "subject" {
		return fmt.Sprintf("Column %d: %s", e.Column, e.Message)
	}
	return fmt.Sprintf("Line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// segment is a piece of a parsed template: literal text, or a field.
type segment struct {
	text     string // the literal text; for a field, its fallback
	field    int    // index in Fields, custom for a custom field, literal for text
	custom   string // the custom field's key
	isField  bool
	fallback bool // the field has a fallback (possibly "")
}

const custom = -1

// Template is one parsed part: a subject or a body.
type Template struct {
	segs    []segment
	literal int // bytes of literal text, to size the output
}

// Fields lists the fields a template uses, as written ("custom.tier"),
// each once, in order of first use.
func (t *Template) Fields() []string { return t.appendFields(nil) }

// Fields lists the fields the subject and body use, each once.
func (e *Email) Fields() []string { return e.Body.appendFields(e.Subject.appendFields(nil)) }

func (t *Template) appendFields(out []string) []string {
	for _, s := range t.segs {
		if !s.isField {
			continue
		}
		name := "custom." + s.custom
		if s.field != custom {
			name = Fields[s.field]
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Email is a parsed subject and body, ready to render for any contact.
type Email struct {
	Subject *Template
	Body    *Template
	html    bool // the body holds HTML tags; otherwise it is plain text
}

// Parse parses a subject and a body against the fields k allows. The
// first mistake is returned as an *Error.
func Parse(subject, body string, k Known) (*Email, error) {
	if n := utf8.RuneCountInString(subject); n > MaxSubject {
		return nil, &Error{Part: "subject", Line: 1, Column: MaxSubject + 1,
			Message: fmt.Sprintf("The subject is %d characters long; it can be at most %d.", n, MaxSubject)}
	}
	if len(subject) > 4*MaxSubject { // not reached with valid UTF-8
		return nil, &Error{Part: "subject", Line: 1, Column: 1, Message: "The subject is too long."}
	}
	if len(body) > MaxBody {
		line, col := position(body, MaxBody)
		return nil, &Error{Part: "body", Line: line, Column: col,
			Message: fmt.Sprintf("The body is %d KB; it can be at most %d KB.", (len(body)+1023)/1024, MaxBody/1024)}
	}
	p := parser{known: k}
	s, err := p.parse("subject", subject)
	if err != nil {
		return nil, err
	}
	b, err := p.parse("body", body)
	if err != nil {
		return nil, err
	}
	return &Email{Subject: s, Body: b, html: looksLikeHTML(b)}, nil
}

// HTML reports whether the body is HTML (it has a tag); a body without
// one is plain text, whose HTML part is made from its paragraphs.
func (e *Email) HTML() bool { return e.html }

// looksLikeHTML reports whether the literal text of t has a tag, a
// comment or an entity-free "<x" that a browser would read as markup.
func looksLikeHTML(t *Template) bool {
	for _, s := range t.segs {
		if s.isField {
			continue
		}
		for i := strings.IndexByte(s.text, '<'); i >= 0 && i+1 < len(s.text); {
			c := s.text[i+1]
			if c == '/' || c == '!' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				return true
			}
			j := strings.IndexByte(s.text[i+1:], '<')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return false
}

type parser struct {
	known Known
	part  string
	src   string
}

// fail is an error at byte offset off of the source.
func (p *parser) fail(off int, format string, args ...any) *Error {
	line, col := position(p.src, off)
	return &Error{Part: p.part, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// position is the line and column (in characters, both from 1) of byte
// offset off. Only errors need it, so it is computed then.
func position(src string, off int) (line, col int) {
	off = min(off, len(src))
	line = 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return line, 1 + utf8.RuneCountInString(src[start:off])
}

func (p *parser) parse(part, src string) (*Template, error) {
	p.part, p.src = part, src
	if err := p.checkText(); err != nil {
		return nil, err
	}
	t := &Template{}
	fields := 0
	for i := 0; i < len(src); {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			t.add(segment{text: src[i:]})
			break
		}
		if j > 0 {
			t.add(segment{text: src[i : i+j]})
		}
		fields++
		if fields > MaxFields {
			return nil, p.fail(i+j, "A template can have at most %d merge fields; this is one more.", MaxFields)
		}
		seg, end, err := p.field(i + j)
		if err != nil {
			return nil, err
		}
		t.segs = append(t.segs, seg)
		i = end
	}
	return t, nil
}

// add appends literal text, joined to the literal before it.
func (t *Template) add(s segment) {
	t.literal += len(s.text)
	if n := len(t.segs); n > 0 && !t.segs[n-1].isField {
		t.segs[n-1].text += s.text
		return
	}
	t.segs = append(t.segs, s)
}

// checkText refuses text that is not UTF-8, NUL, and in a subject line
// breaks and other control characters but tab (a subject becomes a mail
// header). These are the rules store's archive import checks too.
func (p *parser) checkText() error {
	for i, r := range p.src {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(p.src[i:], "\uFFFD"):
			return p.fail(i, "There is a broken character here (the text is not valid UTF-8). Retype it.")
		case p.part == "subject" && (r == '\n' || r == '\r'):
			return p.fail(i, "A subject is one line: remove the line break.")
		case r == 0, p.part == "subject" && unicode.IsControl(r) && r != '\t':
			return p.fail(i, "There is an invisible control character here; remove it.")
		}
	}
	return nil
}

// field parses the merge field whose "{{" is at off and returns it and the
// offset after its "}}".
func (p *parser) field(off int) (segment, int, error) {
	src := p.src
	i := skipSpaces(src, off+2)
	nameAt := i
	for i < len(src) && isNameByte(src[i]) {
		i++
	}
	name := src[nameAt:i]
	if name == "" {
		switch {
		case strings.HasPrefix(src[i:], "}}"):
			return segment{}, 0, p.fail(off, `This merge field is empty. Write a field name between the braces, like {{first_name}}.`)
		case i >= len(src) || src[i] == '\n' || src[i] == '\r':
			return segment{}, 0, p.fail(off, `This {{ is not closed. A merge field is written like {{first_name}}; to close it, add }}.`)
		}
		return segment{}, 0, p.fail(i, `A merge field starts with a field name, like {{first_name}}, not with %s.`, quoteRune(src, i))
	}
	seg, err := p.lookup(name, nameAt)
	if err != nil {
		return segment{}, 0, err
	}
	i = skipSpaces(src, i)
	if i < len(src) && src[i] == '|' {
		fb, end, err := p.fallback(skipSpaces(src, i+1))
		if err != nil {
			return segment{}, 0, err
		}
		seg.text, seg.fallback = fb, true
		i = skipSpaces(src, end)
	}
	if strings.HasPrefix(src[i:], "}}") {
		return seg, i + 2, nil
	}
	if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
		return segment{}, 0, p.fail(off, `This {{ is not closed. A merge field is written like {{%s}}; to close it, add }} on the same line.`, name)
	}
	if src[i] == '}' {
		return segment{}, 0, p.fail(i, `A merge field is closed with two braces: }}.`)
	}
	if seg.fallback {
		return segment{}, 0, p.fail(i, `After the fallback text comes }} to close the field, not %s.`, quoteRune(src, i))
	}
	return segment{}, 0, p.fail(i, `After {{%s comes }} to close it, or | and a fallback in double quotes like {{%s | "there"}}; not %s.`, name, name, quoteRune(src, i))
}

// lookup resolves a field name written at off.
func (p *parser) lookup(name string, off int) (segment, error) {
	if i := slices.Index(Fields, name); i >= 0 {
		return segment{isField: true, field: i}, nil
	}
	if key, ok := strings.CutPrefix(name, "custom."); ok {
		if key != "" && (p.known.AnyCustom && validKey(key) || slices.Contains(p.known.Custom, key)) {
			return segment{isField: true, field: custom, custom: key}, nil
		}
		if len(p.known.Custom) == 0 {
			return segment{}, p.fail(off, `There is no custom field %q: this workspace has no custom fields for contacts.`, key)
		}
		return segment{}, p.fail(off, `There is no custom field %q. The contact custom fields are: %s.`, key, listCustom(p.known.Custom))
	}
	low := strings.ToLower(name)
	switch {
	case slices.Contains(Fields, low):
		return segment{}, p.fail(off, `Field names are written in lower case: {{%s}}.`, low)
	case slices.Contains(p.known.Custom, low):
		return segment{}, p.fail(off, `%q is a custom field: write it {{custom.%s}}.`, name, low)
	}
	return segment{}, p.fail(off, `%q is not a field you can use. The fields are %s, and custom.<key> for a custom field%s.`,
		name, strings.Join(Fields, ", "), customHint(p.known.Custom))
}

func customHint(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return " (" + listCustom(keys) + ")"
}

func listCustom(keys []string) string {
	const show = 10
	var b strings.Builder
	for i, k := range keys {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(keys)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("custom." + k)
	}
	return b.String()
}

// fallback parses a double-quoted fallback at off, where \" and \\ stand
// for " and \.
func (p *parser) fallback(off int) (string, int, error) {
	src := p.src
	if off >= len(src) || src[off] != '"' {
		return "", 0, p.fail(off, `After | comes the fallback text in double quotes, like {{first_name | "there"}}.`)
	}
	var b strings.Builder
	n := 0
	for i := off + 1; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\n' || c == '\r':
			i = len(src)
			continue
		case c == '\\' && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\\'):
			b.WriteByte(src[i+1])
			i += 2
		case c == '\\':
			return "", 0, p.fail(i, `In a fallback, a backslash can only come before " or another backslash (\" or \\).`)
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			b.WriteString(src[i : i+size])
			i += size
		}
		if n++; n > MaxFallback {
			return "", 0, p.fail(off, `This fallback text is longer than %d characters.`, MaxFallback)
		}
	}
	return "", 0, p.fail(off, `This fallback text is not closed: end it with " on the same line.`)
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isNameByte is a byte that can be part of what was meant as a field name;
// names with capitals or hyphens are read whole to be refused with a hint.
func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// validKey is the shape of a custom field's key (store keeps the same).
func validKey(k string) bool {
	if len(k) > 40 || k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '_' && !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// quoteRune shows the character at i for a message.
func quoteRune(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("“%c”", r)
}
