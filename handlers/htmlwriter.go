package handlers

import (
	"html/template"
	"strings"
)

// htmlWriter builds markup in Go for the few parts of a page that are hot
// enough to leave html/template (the contact list's rows: its escapers,
// called by reflection for every value, were most of the page's CPU). It
// has two ways in and no other: raw, for constant markup written in the
// code, and text, which escapes a value. Every value goes through text,
// in element content or inside a double-quoted attribute, where the same
// escaping is right (see htmlEscaper). URLs written as attribute values
// are built by the url helpers (workspaceURL, withParams: path and query
// parts escaped there, always a path or a query, never a scheme), then
// escaped by text like any value.
type htmlWriter struct{ b strings.Builder }

// htmlEscaper is html.EscapeString's escaping (& < > " '), which makes a
// value safe in element content and in a quoted attribute value, plus
// NUL to U+FFFD as html/template writes it (a NUL is a parse error in
// HTML).
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "\x00", "\uFFFD")

// raw writes markup from the code itself, never a value.
func (w *htmlWriter) raw(s string) { w.b.WriteString(s) }

// text writes a value escaped.
func (w *htmlWriter) text(s string) { htmlEscaper.WriteString(&w.b, s) }

// HTML is what was written, for a template to insert as is.
func (w *htmlWriter) HTML() template.HTML { return template.HTML(w.b.String()) }
