package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// nextCases are next values, as the handler reads them (decoded), and the
// redirect each must give.
var nextCases = []struct {
	name, next, want string
}{
	{"Empty", "", "/"},
	{"Root", "/", "/"},
	{"WorkspacePage", "/w/0190a1b2-c3d4/contacts?q=a", "/w/0190a1b2-c3d4/contacts?q=a"},
	{"QueryAndFragment", "/w/x/deals?pipeline=p&view=table#top", "/w/x/deals?pipeline=p&view=table#top"},
	{"EncodedSlashInPath", "/invite/a%2Fb", "/invite/a%2Fb"},
	{"SchemeRelative", "//evil.example", "/"},
	{"Backslash", "/\\evil.example", "/"},
	{"TwoBackslashes", "\\\\evil.example", "/"},
	{"TabBetweenSlashes", "/\t/evil.example", "/"},
	{"CRLFBetweenSlashes", "/\r\n/evil.example", "/"},
	{"NewlineInPath", "/w/x\n/contacts", "/w/x/contacts"},
	{"LeadingSpace", " //evil.example", "/"},
	{"LeadingControl", "\x01//evil.example", "/"},
	{"OtherControl", "/w/\x00x", "/"},
	{"TrailingControl", "/w/x\x00", "/w/x"},
	{"Absolute", "https://evil.example/", "/"},
	{"AbsoluteTabbed", "ht\ttps://evil.example/", "/"},
	{"Javascript", "javascript:alert(1)", "/"},
	{"JavascriptAfterSlash", "/javascript:alert(1)", "/javascript:alert(1)"},
	{"Relative", "evil.example", "/"},
	{"DotRelative", "./evil", "/"},
	{"BadEscape", "/w/%zz", "/"},
}

func TestSafeNext(t *testing.T) {
	for _, tc := range nextCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeNext(tc.next); got != tc.want {
				t.Fatalf("safeNext(%q): got %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

// TestLogin_NextStaysOnSite follows next where a browser meets it: the
// redirect of /login for a signed-in user, the hidden field of the sign-in
// form, and the redirect after signing in.
func TestLogin_NextStaysOnSite(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "ann@example.com", false)
	signedIn := ts.loggedIn(t, "ann@example.com")
	anonymous := ts.newClient(t)
	for _, tc := range nextCases {
		t.Run(tc.name, func(t *testing.T) {
			query := "/login?next=" + url.QueryEscape(tc.next)
			r := signedIn.get(query)
			wantStatus(t, "signed in", r, http.StatusSeeOther)
			if got := r.header.Get("Location"); got != tc.want {
				t.Errorf("GET %s signed in: got Location %q, want %q", query, got, tc.want)
			}
			if r := anonymous.get(query); !containsHiddenNext(r.body, tc.want) {
				t.Errorf("GET %s: the form does not carry next=%q", query, tc.want)
			}
			fresh := ts.newClient(t)
			r = fresh.post("/login", fresh.token("/login"), url.Values{"email": {"ann@example.com"}, "password": {testPassword}, "next": {tc.next}})
			wantStatus(t, "sign in", r, http.StatusSeeOther)
			if got := r.header.Get("Location"); got != tc.want {
				t.Errorf("POST /login next=%q: got Location %q, want %q", tc.next, got, tc.want)
			}
		})
	}
	t.Run("RawQuery", func(t *testing.T) {
		for raw, want := range map[string]string{
			"/%09/evil.example": "/", "%2F%2Fevil.example": "/", "/%5Cevil.example": "/",
			"/%0D%0A/evil.example": "/", "/w/abc/contacts%3Fq%3Da": "/w/abc/contacts?q=a",
		} {
			if got := signedIn.get("/login?next=" + raw).header.Get("Location"); got != want {
				t.Errorf("next=%s: got Location %q, want %q", raw, got, want)
			}
		}
	})
}

// containsHiddenNext reports whether the sign-in page carries next in its
// hidden field (as html/template escapes it).
func containsHiddenNext(body, next string) bool {
	return strings.Contains(body, `name="next" value="`+html.EscapeString(next)+`"`)
}

// TestBrowser_NextStaysOnSite asks Chromium itself, which drops the tab in
// /%09/evil.example and would otherwise leave for another origin.
func TestBrowser_NextStaysOnSite(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "ann@example.com", false)
	b := newBrowser(t)
	run(t, b, "sign in", chromedp.Navigate(ts.URL+"/login"), chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": "ann@example.com", "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.ID("new-workspace")))
	for _, next := range []string{"/%09/evil.example", "/%5C/evil.example", "%2F%2Fevil.example"} {
		err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/login?next="+next))
		location := read(t, b, "location", chromedp.Location())
		if got, want := location, ts.URL+"/"; err != nil || got != want {
			t.Errorf("next=%s: got %q (%v), want %q", next, got, err, want)
		}
	}
}
