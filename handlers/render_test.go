package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium/tenant"
)

// TestCountOf: counts read right in the singular and the plural, with
// thousands grouped; a value that is no integer fails rather than
// printing a wrong number.
func TestCountOf(t *testing.T) {
	for _, tc := range []struct {
		n    any
		want string
	}{{0, "0 contacts"}, {1, "1 contact"}, {int64(2), "2 contacts"}, {uint64(4956), "4,956 contacts"}, {1234567, "1,234,567 contacts"}, {-1200, "-1,200 contacts"}} {
		got, err := countOf(tc.n, "contact", "contacts")
		if err != nil || got != tc.want {
			t.Errorf("countOf(%v) = %q, %v; want %q", tc.n, got, err, tc.want)
		}
	}
	if verb, _ := pluralOf(1, "matches", "match"); verb != "matches" {
		t.Errorf("pluralOf(1) = %q", verb)
	}
	if verb, _ := pluralOf(3, "matches", "match"); verb != "match" {
		t.Errorf("pluralOf(3) = %q", verb)
	}
	if _, err := countOf("3", "contact", "contacts"); err == nil {
		t.Error("countOf of a string did not fail")
	}
}

// TestPlurals_InPages: a list of one says so in the singular.
func TestPlurals_InPages(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	for path, want := range map[string]string{
		"/w/" + f.a + "/contacts?q=Ana":     "1 contact matches these filters.",
		"/w/" + f.a + "/companies?q=Acme":   "1 company matches these filters.",
		"/w/" + f.a + "/templates":          "1 template for outreach emails.",
		"/w/" + f.a + "/companies?q=nobody": "No companies match",
	} {
		if body := c.get(path).body; !strings.Contains(body, want) {
			t.Errorf("%s does not say %q", path, want)
		}
	}
}

// TestRender_BrokenErrorPage: when the frame every page shares fails to
// render, the error page (in the same frame) fails too; the answer is a
// plain 500, not an error page rendered again without end.
func TestRender_BrokenErrorPage(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("..")); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "templates", "layout.html")
	b, err := os.ReadFile(layout)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "<title>", "<title>{{.NoSuchField}}", 1)
	if broken == string(b) {
		t.Fatal("the layout has no <title> to break")
	}
	if err := os.WriteFile(layout, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := tenant.Open(context.Background(), tenant.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h, err := New(context.Background(), Config{Tenants: m, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS(dir)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/setup", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Fatalf("status %d, body %q", rec.Code, rec.Body.String())
	}
}
