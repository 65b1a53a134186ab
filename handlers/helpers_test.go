package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
	"atrium/tenant"
)

// testServer is Atrium's HTTP handler on a fresh data directory.
type testServer struct {
	*httptest.Server
	tenants *tenant.Manager
}

func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	return newTestServerWith(tb, tenant.Options{})
}

// newTestServerWith starts a server whose Manager has opts, on a fresh data
// directory unless opts names one.
func newTestServerWith(tb testing.TB, opts tenant.Options) *testServer {
	tb.Helper()
	if opts.DataDir == "" {
		opts.DataDir = tb.TempDir()
	}
	m, err := tenant.Open(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := New(context.Background(), Config{Tenants: m, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS("..")})
	if err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(h), tenants: m}
	tb.Cleanup(func() {
		ts.Close()
		m.Close()
	})
	return ts
}

const testPassword = "correct horse battery"

// mustUser creates a user with testPassword.
func (ts *testServer) mustUser(tb testing.TB, email string, superadmin bool) *store.User {
	tb.Helper()
	u, err := store.CreateUser(context.Background(), ts.tenants.Catalog(), store.NewUser{Email: email, Password: testPassword, Superadmin: superadmin, Verified: true})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// mustWorkspace creates a workspace owned by ownerEmail and returns its id.
func (ts *testServer) mustWorkspace(tb testing.TB, name, ownerEmail string) string {
	tb.Helper()
	w, err := ts.tenants.Create(context.Background(), tenant.CreateOptions{Name: name, OwnerEmail: ownerEmail})
	if err != nil {
		tb.Fatal(err)
	}
	return w.ID
}

func (ts *testServer) mustMember(tb testing.TB, workspaceID string, u *store.User, role string) {
	tb.Helper()
	if err := store.AddMember(context.Background(), ts.tenants.Catalog().W, u.ID, workspaceID, role); err != nil {
		tb.Fatal(err)
	}
}

// client is a browser: a cookie jar that does not follow redirects.
type client struct {
	tb testing.TB
	ts *testServer
	hc *http.Client
}

func (ts *testServer) newClient(tb testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{tb: tb, ts: ts, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is what a request returned, body read.
type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.tb.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) response {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.ts.URL+path, nil)
	return c.do(req)
}

// post sends a form with the given CSRF token ("" for none).
func (c *client) post(path, token string, values url.Values) response {
	c.tb.Helper()
	if values == nil {
		values = url.Values{}
	}
	if token != "" {
		values.Set("csrf_token", token)
	}
	req, _ := http.NewRequest(http.MethodPost, c.ts.URL+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads a page and returns the first CSRF token in it: the token of
// the page's workspace on a workspace page.
func (c *client) token(path string) string {
	c.tb.Helper()
	r := c.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		c.tb.Fatalf("no CSRF token on %s (status %d)", path, r.status)
	}
	return m[1]
}

var pageToken = regexp.MustCompile(`hx-headers='\{"X-CSRF-Token": "([^"]+)"\}'`)

// workspaceToken returns the CSRF token of a workspace's forms, from the
// page header that htmx sends with every request.
func (c *client) workspaceToken(workspaceID string) string {
	c.tb.Helper()
	r := c.get("/w/" + workspaceID + "/")
	m := pageToken.FindStringSubmatch(r.body)
	if m == nil {
		c.tb.Fatalf("no CSRF token on the page of workspace %s (status %d)", workspaceID, r.status)
	}
	return m[1]
}

// login signs in with testPassword and fails the test if it does not work.
func (c *client) login(email string) {
	c.tb.Helper()
	r := c.post("/login", c.token("/login"), url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		c.tb.Fatalf("login %s: status %d", email, r.status)
	}
}

func (ts *testServer) loggedIn(tb testing.TB, email string) *client {
	c := ts.newClient(tb)
	c.login(email)
	return c
}

func wantStatus(tb testing.TB, what string, r response, want int) {
	tb.Helper()
	if r.status != want {
		body := r.body
		if len(body) > 300 {
			body = body[:300]
		}
		tb.Errorf("%s: status %d, want %d\n%s", what, r.status, want, body)
	}
}

// postFile sends a multipart form with one file field named "file".
func (c *client) postFile(path, token, name, content string) response {
	c.tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", token)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(content))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.ts.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}
