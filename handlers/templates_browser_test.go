package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowser_TemplatePreview writes a template in a real browser: Preview
// swaps in only the preview (htmx), shows a mistake with its position,
// and saving lands on the template's page.
func TestBrowser_TemplatePreview(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	base := f.ts.URL + "/w/" + f.a + "/templates"
	run(t, b, "sign in",
		chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": f.member.Email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".user-menu")))
	run(t, b, "preview a draft",
		chromedp.Navigate(base+"/new"),
		chromedp.WaitVisible(chromedp.ID("f-body")),
		chromedp.SetValue(chromedp.ID("f-name"), "Browser draft"),
		chromedp.SetValue(chromedp.ID("f-subject"), `Hi {{first_name | "there"}}`),
		chromedp.SetValue(chromedp.ID("f-body"), "<p>Dear {{first_name}},</p><p>See <a href=\"https://acme.example\">this</a>.</p>"),
		chromedp.Click(chromedp.CSS(`button[formaction$="/templates/preview"]`)),
		chromedp.WaitVisible(chromedp.CSS("#template-preview .email-preview")))
	if text := read(t, b, "preview", chromedp.Text(chromedp.ID("template-preview"))); !strings.Contains(text, "Preview for Ana") ||
		!strings.Contains(text, "Hi Ana") || !strings.Contains(text, "See this (https://acme.example).") {
		t.Fatalf("preview: %q", text)
	}
	if url := read(t, b, "location", chromedp.Location()); !strings.HasSuffix(url, "/templates/new") {
		t.Fatalf("the preview navigated to %s", url)
	}
	run(t, b, "preview a mistake",
		chromedp.SetValue(chromedp.ID("f-body"), "<p>Dear {{frist_name}}</p>"),
		chromedp.Click(chromedp.CSS(`button[formaction$="/templates/preview"]`)),
		chromedp.WaitVisible(chromedp.CSS("#template-preview .error")))
	if text := read(t, b, "error", chromedp.Text(chromedp.CSS("#template-preview .error"))); !strings.HasPrefix(text, `Line 1, column 11: "frist_name" is not a field`) {
		t.Fatalf("error: %q", text)
	}
	run(t, b, "save",
		chromedp.SetValue(chromedp.ID("f-body"), "<p>Dear {{first_name}}</p>"),
		chromedp.Click(chromedp.CSS(".form-actions .button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".email-preview")))
	if h1 := read(t, b, "heading", chromedp.Text(chromedp.CSS("h1"))); h1 != "Browser draft" {
		t.Fatalf("after saving: %q", h1)
	}
}
