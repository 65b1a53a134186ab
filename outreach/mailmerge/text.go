package mailmerge

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText is the plain-text part of an HTML body: the text as a reader
// sees it, whitespace collapsed as a browser does, paragraphs and headings
// separated by a blank line, <br> and list items on lines of their own
// ("- " before an item), a link as "text (url)" (the url alone when it is
// also the text), an image as its alt text. One pass over the tokens.
func HTMLToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var w textWriter
	var href string
	linkStart := -1
	pre, skip := 0, 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return w.String()
		case html.TextToken:
			if skip == 0 {
				w.text(string(z.Text()), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch {
			case a == atom.Br:
				w.newline()
			case a == atom.Hr:
				w.paragraph()
				w.write("---")
				w.paragraph()
			case a == atom.Pre:
				w.paragraph()
				if tt == html.StartTagToken {
					pre++
				}
			case isBlock(a):
				w.paragraph()
			case a == atom.Li:
				w.newline()
				w.write("- ")
			case a == atom.Tr:
				w.newline()
			case a == atom.Td || a == atom.Th:
				w.cellGap()
			case a == atom.A && tt == html.StartTagToken:
				href, linkStart = attr(z, hasAttr, "href"), w.len()
			case a == atom.Img:
				w.text(attr(z, hasAttr, "alt"), false)
			case (a == atom.Script || a == atom.Style) && tt == html.StartTagToken:
				skip++
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case a == atom.Pre:
				pre = max(pre-1, 0)
				w.paragraph()
			case isBlock(a):
				w.paragraph()
			case a == atom.A && linkStart >= 0:
				w.link(linkStart, href)
				href, linkStart = "", -1
			case a == atom.Script || a == atom.Style:
				skip = max(skip-1, 0)
			}
		}
	}
}

// isBlock is an element that stands apart from the text around it.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Dl,
		atom.Table, atom.Blockquote, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Aside,
		atom.Nav, atom.Figure, atom.Address, atom.Details, atom.Summary:
		return true
	}
	return false
}

// attr returns the value of the current tag's attribute key, or "".
func attr(z *html.Tokenizer, more bool, key string) string {
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		if string(k) == key {
			return strings.TrimSpace(string(v))
		}
	}
	return ""
}

// textWriter builds the text: it collapses whitespace, and keeps at most
// one blank line between blocks.
type textWriter struct {
	b     []byte
	space bool // a space is due before the next word
}

func (w *textWriter) len() int { return len(w.b) }

func (w *textWriter) atLineStart() bool { return len(w.b) == 0 || w.b[len(w.b)-1] == '\n' }

// text writes text as a browser shows it: runs of whitespace are one
// space, none at the start of a line; inside <pre> it is kept as is.
func (w *textWriter) text(s string, pre bool) {
	if pre {
		w.flushSpace()
		w.b = append(w.b, s...)
		return
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			w.space = !w.atLineStart()
			continue
		}
		w.flushSpace()
		w.b = utf8.AppendRune(w.b, r)
	}
}

// write writes s as it is, after a pending space.
func (w *textWriter) write(s string) {
	w.flushSpace()
	w.b = append(w.b, s...)
}

func (w *textWriter) flushSpace() {
	if w.space && !w.atLineStart() {
		w.b = append(w.b, ' ')
	}
	w.space = false
}

// space separates table cells.
func (w *textWriter) cellGap() {
	if !w.atLineStart() {
		w.space = true
	}
}

func (w *textWriter) trimRight() {
	for len(w.b) > 0 && (w.b[len(w.b)-1] == ' ' || w.b[len(w.b)-1] == '\t') {
		w.b = w.b[:len(w.b)-1]
	}
	w.space = false
}

func (w *textWriter) newline() {
	w.trimRight()
	w.b = append(w.b, '\n')
}

// paragraph ends the current block with a blank line, once.
func (w *textWriter) paragraph() {
	w.trimRight()
	if len(w.b) == 0 {
		return
	}
	n := 0
	for i := len(w.b) - 1; i >= 0 && w.b[i] == '\n' && n < 2; i-- {
		n++
	}
	for ; n < 2; n++ {
		w.b = append(w.b, '\n')
	}
}

// link ends a link whose text started at start: "text (url)", or the url
// when there is no text or the text is the url already.
func (w *textWriter) link(start int, href string) {
	if href == "" || strings.HasPrefix(href, "#") {
		return
	}
	text := strings.TrimSpace(string(w.b[start:]))
	shown := strings.TrimPrefix(href, "mailto:")
	switch text {
	case "":
		w.write(shown)
	case href, shown:
	default:
		w.write(" (" + shown + ")")
	}
}

// String is the text with the blank lines at either end cut and no line
// ending in spaces.
func (w *textWriter) String() string {
	lines := strings.Split(string(w.b), "\n")
	blank := 0
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
