package handlers

import (
	"archive/zip"
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"filippo.io/age"
)

const testPassphrase = "correct horse battery"

// openProtected decrypts a protected export and returns the zip inside.
func openProtected(tb testing.TB, body, passphrase string) *zip.Reader {
	tb.Helper()
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := age.Decrypt(strings.NewReader(body), id)
	if err != nil {
		tb.Fatalf("decrypt: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	return zr
}

// A protected export from the settings page: an age file that the
// passphrase opens, which the workspace import takes back only with it.
func TestExportUI_Protected(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	if !strings.Contains(c.get("/w/"+f.a+"/settings").body, "Download protected export") {
		t.Fatal("the settings page offers no protected export")
	}
	r := c.post("/w/"+f.a+"/export", token, url.Values{"passphrase": {"short"}})
	wantStatus(t, "a short passphrase", r, http.StatusSeeOther)
	if !strings.Contains(c.get(r.header.Get("Location")).body, "at least 8 characters") {
		t.Error("no clear message for a short passphrase")
	}
	r = c.post("/w/"+f.a+"/export", token, url.Values{"passphrase": {testPassphrase}})
	wantStatus(t, "protected export", r, http.StatusOK)
	if !strings.HasPrefix(r.body, "age-encryption.org/v1\n") || !strings.HasSuffix(r.header.Get("Content-Disposition"), `.zip.age"`) {
		t.Fatalf("not an age file: %q, %v", r.body[:min(40, len(r.body))], r.header)
	}
	if strings.Contains(r.body, "workspace.db") || strings.Contains(r.body, "manifest.json") {
		t.Fatal("the protected export shows its contents")
	}
	zr := openProtected(t, r.body, testPassphrase)
	if _, err := zr.Open("workspace.db"); err != nil {
		t.Fatal("no workspace.db inside")
	}
	// Another workspace's id is not found, whatever the passphrase.
	wantStatus(t, "export of another workspace", c.post("/w/"+f.b+"/export", token, url.Values{"passphrase": {testPassphrase}}), http.StatusNotFound)

	archive := r.body
	upload := func(passphrase string) response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf_token", c.token("/"))
		mw.WriteField("passphrase", passphrase)
		fw, _ := mw.CreateFormFile("archive", "acme.zip.age")
		fw.Write([]byte(archive))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/workspaces/import", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return c.do(req)
	}
	for _, tc := range []struct{ passphrase, message string }{
		{"", "protected with a passphrase"},
		{"not the passphrase", "passphrase is wrong"},
	} {
		r := upload(tc.passphrase)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.message) {
			t.Fatalf("import with passphrase %q: %d, message %q missing", tc.passphrase, r.status, tc.message)
		}
	}
	r = upload(testPassphrase)
	wantStatus(t, "import with the passphrase", r, http.StatusSeeOther)
	id := workspaceIDOf(t, r.header.Get("Location"))
	if body := c.get("/w/" + id + "/contacts").body; !strings.Contains(body, "ana@acme.example") {
		t.Fatal("the imported workspace lacks the contacts")
	}
}

// The API asks for a protected export with a header.
func TestAPI_ExportProtected(t *testing.T) {
	f := newAPIFixture(t)
	get := func(passphrase string) response {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/api/v1/export", nil)
		req.Header.Set("Authorization", "Bearer "+f.a.readKey)
		req.Header.Set(ExportPassphraseHeader, passphrase)
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	r := get("short")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "at least 8") {
		t.Fatalf("short passphrase: %d %s", r.status, r.body)
	}
	r = get(testPassphrase)
	wantStatus(t, "protected export", r, http.StatusOK)
	if strings.Contains(r.body, "Acmeword") {
		t.Fatal("plaintext in the protected export")
	}
	zr := openProtected(t, r.body, testPassphrase)
	for _, zf := range zr.File {
		if zf.Name == "data/contacts.json" {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(b), "Acmeword") || strings.Contains(string(b), "Globexword") {
				t.Fatalf("contacts.json of A: %.200s", b)
			}
		}
	}
}
