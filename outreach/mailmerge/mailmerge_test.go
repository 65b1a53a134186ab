package mailmerge

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var known = Known{Custom: []string{"tier", "plan_2"}}

func mustParse(tb testing.TB, subject, body string) *Email {
	tb.Helper()
	e, err := Parse(subject, body, known)
	if err != nil {
		tb.Fatalf("Parse(%q, %q): %v", subject, body, err)
	}
	return e
}

var ana = Data{FirstName: "Ana", LastName: "Silva", Company: "Acme", Title: "CTO", Email: "ana@acme.example",
	Custom: map[string]string{"tier": "Gold"}}

func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, subject, body string
		part                string
		line, col           int
		says                string
	}{
		{"unknown field", "Hi", "Hello {{frist_name}}", "body", 1, 9, `"frist_name" is not a field`},
		{"unknown field on line 3", "Hi", "Dear team,\n\nWe met {{ compnay }} last week", "body", 3, 11, `"compnay" is not a field`},
		{"position counts characters", "Hi", "Über café {{nope}}", "body", 1, 13, `"nope"`},
		{"upper case", "Hi", "{{First_Name}}", "body", 1, 3, "lower case: {{first_name}}"},
		{"custom without prefix", "Hi", "{{tier}}", "body", 1, 3, "{{custom.tier}}"},
		{"unknown custom", "Hi", "{{custom.size}}", "body", 1, 3, `no custom field "size". The contact custom fields are: custom.tier, custom.plan_2`},
		{"custom with no key", "Hi", "{{custom.}}", "body", 1, 3, `no custom field ""`},
		{"not closed", "Hi", "Hello {{first_name", "body", 1, 7, "is not closed"},
		{"not closed on its line", "Hi", "Hello {{first_name\n}}", "body", 1, 7, "is not closed"},
		{"one brace", "Hi", "Hello {{first_name}.", "body", 1, 19, "two braces"},
		{"empty field", "Hi", "a\nb {{ }}", "body", 2, 3, "empty"},
		{"open braces alone", "Hi", "x {{", "body", 1, 3, "not closed"},
		{"starts with a quote", "Hi", `{{"there"}}`, "body", 1, 3, "starts with a field name"},
		{"two names", "Hi", "{{first_name x}}", "body", 1, 14, "not “x”"},
		{"fallback without quotes", "Hi", "{{first_name | there}}", "body", 1, 16, "in double quotes"},
		{"fallback not closed", "Hi", `{{first_name | "there}}`, "body", 1, 16, "not closed"},
		{"fallback across lines", "Hi", "{{first_name | \"the\nre\"}}", "body", 1, 16, "not closed"},
		{"bad escape", "Hi", `{{first_name | "a\nb"}}`, "body", 1, 18, "backslash"},
		{"junk after fallback", "Hi", `{{first_name | "a" "b"}}`, "body", 1, 20, "After the fallback text"},
		{"fallback too long", "Hi", `{{first_name | "` + strings.Repeat("x", MaxFallback+1) + `"}}`, "body", 1, 16, "longer than"},
		{"subject field", "Hi {{firstname}}", "ok", "subject", 1, 6, `"firstname"`},
		{"subject line break", "Hi\nthere", "ok", "subject", 1, 3, "one line"},
		{"subject control character", "Hi\x01", "ok", "subject", 1, 3, "control character"},
		{"subject C1 control character", "Hi \u0085", "ok", "subject", 1, 4, "control character"},
		{"NUL in the body", "Hi", "a\x00", "body", 1, 2, "control character"},
		{"subject too long", strings.Repeat("é", MaxSubject+1), "ok", "subject", 1, MaxSubject + 1, "at most 300"},
		{"body too long", "Hi", strings.Repeat("a", MaxBody+1), "body", 1, MaxBody + 1, "at most 100 KB"},
		{"broken UTF-8", "Hi", "ok\nab\xffc", "body", 2, 3, "not valid UTF-8"},
		{"too many fields", "Hi", strings.Repeat("{{email}}", MaxFields+1), "body", 1, 9*MaxFields + 1, "at most 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.subject, tc.body, known)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if pe.Part != tc.part || pe.Line != tc.line || pe.Column != tc.col || !strings.Contains(pe.Message, tc.says) {
				t.Fatalf("got %s %d:%d %q, want %s %d:%d containing %q", pe.Part, pe.Line, pe.Column, pe.Message, tc.part, tc.line, tc.col, tc.says)
			}
		})
	}
}

func TestParse_ErrorText(t *testing.T) {
	_, err := Parse("Hi", "one\ntwo {{x}}", known)
	if got := err.Error(); !strings.HasPrefix(got, "Line 2, column 7: ") {
		t.Fatalf("got %q", got)
	}
	_, err = Parse("Hi {{x}}", "", known)
	if got := err.Error(); !strings.HasPrefix(got, "Column 6: ") {
		t.Fatalf("got %q", got)
	}
	_, err = Parse("Hi", "{{custom.x}}", Known{})
	if got := err.Error(); !strings.Contains(got, "no custom fields for contacts") {
		t.Fatalf("got %q", got)
	}
}

func TestParse_Accepts(t *testing.T) {
	for _, body := range []string{
		"", "plain", "{{first_name}}{{last_name}}{{company}}{{title}}{{email}}", "{{ custom.tier }}", "{{custom.plan_2|\"x\"}}",
		"a } b }} c { d", `{{first_name | "say \"hi\" \\ bye"}}`, `{{first_name|""}}`, "tab\t{{\tfirst_name\t}}",
		"<p>{{first_name}}</p>", "{{first_name | \"}} {{ |\"}}",
	} {
		if _, err := Parse("Hi {{first_name}}", body, known); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
	e := mustParse(t, "{{email}}", "{{custom.tier}} {{email}} {{first_name}}")
	if got := strings.Join(e.Body.Fields(), ","); got != "custom.tier,email,first_name" {
		t.Fatalf("fields %q", got)
	}
	if got := strings.Join(e.Fields(), ","); got != "email,custom.tier,first_name" {
		t.Fatalf("fields of the email %q", got)
	}
	// A deleted custom field still renders, empty, when parsed leniently.
	e, err := Parse("Hi", "<p>{{custom.gone | \"n/a\"}}</p>", Known{AnyCustom: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := e.Render(ana); m.Text != "n/a" {
		t.Fatalf("got %q", m.Text)
	}
	if _, err := Parse("Hi", "{{custom.Bad-Key}}", Known{AnyCustom: true}); err == nil {
		t.Fatal("a key no custom field can have was accepted")
	}
}

func TestRender_Fallbacks(t *testing.T) {
	e := mustParse(t, `Hi {{first_name | "there"}}`, `{{first_name | "there"}}, {{custom.tier | "no tier"}} {{custom.plan_2}}|{{title}}`)
	for _, tc := range []struct {
		name          string
		d             Data
		subject, text string
	}{
		{"values", ana, "Hi Ana", "Ana, Gold |CTO"},
		{"empty", Data{}, "Hi there", "there, no tier |"},
		{"blank is empty", Data{FirstName: "  ", Custom: map[string]string{"tier": "\t"}}, "Hi there", "there, no tier |"},
		{"trimmed", Data{FirstName: " Ana ", Title: " CTO\n"}, "Hi Ana", "Ana, no tier |CTO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.Render(tc.d)
			if m.Subject != tc.subject || m.Text != tc.text {
				t.Fatalf("got %q / %q, want %q / %q", m.Subject, m.Text, tc.subject, tc.text)
			}
		})
	}
}

func TestRender_Escaping(t *testing.T) {
	evil := Data{FirstName: `<script>alert(1)</script>`, Company: `"><img src=x onerror=alert(1)>`, Title: "A & B",
		LastName: "x\r\nBcc: victim@example.com", Custom: map[string]string{"tier": "javascript:alert(1)"}}
	e := mustParse(t, "Hello {{first_name}} {{last_name}}",
		`<p>Hi {{first_name}} of <b title="{{company}}">{{company}}</b>, {{title}}</p><a href="{{custom.tier}}">site</a><script>bad()</script><p onclick="x()">ok</p>`)
	m := e.Render(evil)
	for _, bad := range []string{"<script", " onclick", "javascript:", "<img"} {
		if strings.Contains(strings.ToLower(m.HTML), bad) {
			t.Errorf("HTML has %q: %s", bad, m.HTML)
		}
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") || !strings.Contains(m.HTML, "A &amp; B") {
		t.Errorf("values not escaped: %s", m.HTML)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || m.Subject != "Hello <script>alert(1)</script> x Bcc: victim@example.com" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Hi <script>alert(1)</script> of") || !strings.Contains(m.Text, "A & B") {
		t.Errorf("text part shows escapes: %q", m.Text)
	}
	// A plain-text body: its HTML part is escaped, not read as markup.
	pt := mustParse(t, "Hi", "Dear {{first_name}},\n\n1 < 2 & so on\nbye")
	m = pt.Render(evil)
	if pt.HTML() || m.HTML != "<p>Dear &lt;script&gt;alert(1)&lt;/script&gt;,</p>\n<p>1 &lt; 2 &amp; so on<br>\nbye</p>\n" {
		t.Errorf("text body HTML %q", m.HTML)
	}
	if m.Text != "Dear <script>alert(1)</script>,\n\n1 < 2 & so on\nbye" {
		t.Errorf("text body text %q", m.Text)
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tc := range []struct{ name, html, want string }{
		{"paragraphs", "<p>Hello\n   there</p><p>Second</p>", "Hello there\n\nSecond"},
		{"line breaks", "one<br>two<br/>three", "one\ntwo\nthree"},
		{"link", `See <a href="https://x.example/a?b=1&amp;c=2">our site</a>.`, "See our site (https://x.example/a?b=1&c=2)."},
		{"link that is its url", `<a href="https://x.example">https://x.example</a>`, "https://x.example"},
		{"link without text", `<a href="https://x.example"></a>`, "https://x.example"},
		{"mailto", `<a href="mailto:a@b.example">a@b.example</a> or <a href="mailto:a@b.example">mail</a>`, "a@b.example or mail (a@b.example)"},
		{"list", "<ul><li>one</li><li>two</li></ul>after", "- one\n- two\n\nafter"},
		{"heading", "<h1>Title</h1>text", "Title\n\ntext"},
		{"entities", "<p>Tom &amp; Jerry &lt;3 &nbsp;x</p>", "Tom & Jerry <3 x"},
		{"pre", "<pre>a\n  b</pre>c", "a\n  b\n\nc"},
		{"table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"image", `<p><img src="x.png" alt="Logo"> text</p>`, "Logo text"},
		{"script", "<p>a</p><script>var x = 1;</script><style>p{}</style><p>b</p>", "a\n\nb"},
		{"blank lines collapse", "<div><p>a</p></div><div></div><div><p>b</p></div>", "a\n\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HTMLToText(tc.html); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRender_HTMLBodyHasTextPart(t *testing.T) {
	e := mustParse(t, "Hi", `<p>Hi {{first_name}},</p><p>Read <a href="https://acme.example/{{custom.tier}}">the plan</a>.<br>Bye</p>`)
	m := e.Render(ana)
	if want := "Hi Ana,\n\nRead the plan (https://acme.example/Gold).\nBye"; m.Text != want {
		t.Fatalf("got %q, want %q", m.Text, want)
	}
	if !strings.Contains(m.HTML, `href="https://acme.example/Gold"`) {
		t.Fatalf("html %s", m.HTML)
	}
}

// FuzzParse: no input panics or runs away; every refusal has a position
// inside the text; every accepted template renders to valid UTF-8 without
// a script, and renders the same twice.
func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		{"Hi {{first_name}}", "<p>Hello {{first_name | \"there\"}}</p>"},
		{"{{custom.tier}}", "{{custom.plan_2|\"\\\"\"}} {{email}}"},
		{"x", "{{"}, {"x", "}}{{}}"}, {"{{", ""}, {"", "{{first_name | \"a"},
		{"Hi", "<a href=\"{{email}}\">x</a><script>{{title}}</script>"},
		{"Hi", "line one\n\nline {{company}} two\r\nthree"},
		{"Hi", "<ul><li>{{title}}<li>b</ul><pre>x  y</pre><table><tr><td>1"},
		{"é\x00", "\xff{{first_name\n}}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, subject, body string) {
		e, err := Parse(subject, body, known)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("not an *Error: %v", err)
			}
			src := body
			if pe.Part == "subject" {
				src = subject
			}
			if pe.Line < 1 || pe.Column < 1 || pe.Line > strings.Count(src, "\n")+1 || pe.Message == "" {
				t.Fatalf("bad position %+v for %q", pe, src)
			}
			return
		}
		d := Data{FirstName: body, LastName: subject, Custom: map[string]string{"tier": "<b>&"}}
		m := e.Render(d)
		if !utf8.ValidString(m.HTML) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.Subject) {
			t.Fatalf("invalid UTF-8 in %+v", m)
		}
		if strings.Contains(strings.ToLower(m.HTML), "<script") || strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("unsafe output %+v", m)
		}
		if again := e.Render(d); again != m {
			t.Fatalf("two renders differ")
		}
	})
}

// benchBody is an email of the usual kind: a few paragraphs, a link, a
// list and eight merge fields, about 2 KB.
var benchBody = strings.Repeat(`<p>Hi {{first_name | "there"}},</p>
<p>I saw that {{company}} is growing its team, and as {{title}} you may be looking at how
your people keep in touch with customers. We help teams like yours at <a href="https://example.com/?ref={{custom.tier}}">Example</a>.</p>
<ul><li>One place for every conversation</li><li>Sequences that stop when people reply</li></ul>
`, 3) + `<p>Best,<br>Sam</p>`

func BenchmarkRender(b *testing.B) {
	e := mustParse(b, `{{first_name | "Hello"}}, a question about {{company}}`, benchBody)
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		e.Render(ana)
	}
}

// BenchmarkRenderWorstCase: the largest body (100 KB) of the markup that
// costs most per byte (links), with a field in each: what one template can
// make a render cost.
func BenchmarkRenderWorstCase(b *testing.B) {
	unit, plain := `<a href="https://x.example/{{email}}">{{first_name}}</a>`, `<a href="https://x.example/">x</a>`
	body := strings.Repeat(unit, MaxFields/2)
	body += strings.Repeat(plain, (MaxBody-len(body))/len(plain))
	e := mustParse(b, "Hi", body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e.Render(ana)
	}
}

func BenchmarkRenderText(b *testing.B) {
	e := mustParse(b, "Hi", strings.Repeat("Hi {{first_name}},\n\nWe help {{company}} and others.\n", 10))
	b.ReportAllocs()
	for b.Loop() {
		e.Render(ana)
	}
}

func BenchmarkParse(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("Hi {{first_name}}", benchBody, known); err != nil {
			b.Fatal(err)
		}
	}
}

// A parsed template is rendered by many senders at once.
func TestRender_Concurrent(t *testing.T) {
	e := mustParse(t, "Hi {{first_name}}", benchBody)
	want := e.Render(ana)
	done := make(chan Message)
	for range 8 {
		go func() { done <- e.Render(ana) }()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Fatal("renders differ")
		}
	}
}
