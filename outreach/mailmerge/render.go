package mailmerge

import (
	"html"
	"strings"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
)

// Data are the values of one contact's merge fields.
type Data struct {
	FirstName, LastName, Company, Title, Email string
	Custom                                     map[string]string // by key, as text
}

// Message is a rendered email: a one-line subject, an HTML part that is
// sanitised, and a plain-text part made from it.
type Message struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// policy sanitises every rendered HTML body: what people may post on a
// forum (links, images, lists, tables, emphasis), without scripts, styles,
// event handlers, forms or frames. A Policy is safe for concurrent use once
// built.
var policy = bluemonday.UGCPolicy()

// Render fills the fields with d. Values are used trimmed; an empty value
// is replaced by the field's fallback. In the HTML part values are
// escaped, then the whole part is sanitised, so neither a contact's data
// nor the template can put a script in a message. A plain-text body (no
// tags) keeps its text as the plain part and gets an HTML part of its
// paragraphs and line breaks.
func (e *Email) Render(d Data) Message {
	m := Message{Subject: e.Subject.render(&d, oneLine)}
	if e.html {
		m.HTML = policy.Sanitize(e.Body.render(&d, html.EscapeString))
		m.Text = HTMLToText(m.HTML)
		return m
	}
	text := normalizeNewlines(e.Body.render(&d, nil))
	m.HTML = textToHTML(text)
	m.Text = strings.TrimSpace(text)
	return m
}

// render writes the template with each value passed through escape (none
// when nil).
func (t *Template) render(d *Data, escape func(string) string) string {
	var b strings.Builder
	b.Grow(t.literal + 16*len(t.segs))
	for i := range t.segs {
		s := &t.segs[i]
		if !s.isField {
			b.WriteString(s.text)
			continue
		}
		v := strings.TrimSpace(d.value(s))
		if v == "" {
			v = s.text // the fallback, "" without one
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

func (d *Data) value(s *segment) string {
	switch s.field {
	case 0:
		return d.FirstName
	case 1:
		return d.LastName
	case 2:
		return d.Company
	case 3:
		return d.Title
	case 4:
		return d.Email
	}
	return d.Custom[s.custom]
}

// oneLine keeps a value on the subject's line: a subject is a mail header,
// and a line break in a value must not start another header.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, isControl), " ")
}

func isControl(r rune) bool { return unicode.IsControl(r) }

func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// textToHTML makes the HTML part of a plain-text body: escaped, a <p> for
// each paragraph (separated by a blank line), <br> for the line breaks
// within one.
func textToHTML(text string) string {
	var b strings.Builder
	for _, para := range paragraphs(text) {
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			b.WriteString(html.EscapeString(line))
		}
		b.WriteString("</p>\n")
	}
	return b.String()
}

// paragraphs splits text at blank lines, dropping empty paragraphs.
func paragraphs(text string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = cur[:0]
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}
