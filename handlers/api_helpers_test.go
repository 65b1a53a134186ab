package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

// apiRouteTable is every route of the JSON API; TestAPI_RouteTableIsComplete
// keeps it in step with the router, and the access tests walk it. min is
// the least key role: "read" or "write".
var apiRouteTable = []route{
	{"GET", "/api/v1/workspace", "read"},
	{"GET", "/api/v1/usage", "read"},
	{"GET", "/api/v1/audit", "read"},
	{"GET", "/api/v1/search", "read"},
	{"GET", "/api/v1/contacts", "read"},
	{"POST", "/api/v1/contacts", "write"},
	{"GET", "/api/v1/contacts/{id}", "read"},
	{"PATCH", "/api/v1/contacts/{id}", "write"},
	{"DELETE", "/api/v1/contacts/{id}", "write"},
	{"POST", "/api/v1/contacts/import", "write"},
	{"POST", "/api/v1/contacts/{id}/erase", "write"},
	{"GET", "/api/v1/contacts/{id}/export", "read"},
	{"POST", "/api/v1/companies/import", "write"},
	{"GET", "/api/v1/companies", "read"},
	{"POST", "/api/v1/companies", "write"},
	{"GET", "/api/v1/companies/{id}", "read"},
	{"PATCH", "/api/v1/companies/{id}", "write"},
	{"DELETE", "/api/v1/companies/{id}", "write"},
	{"GET", "/api/v1/notes", "read"},
	{"POST", "/api/v1/notes", "write"},
	{"GET", "/api/v1/notes/{id}", "read"},
	{"PATCH", "/api/v1/notes/{id}", "write"},
	{"DELETE", "/api/v1/notes/{id}", "write"},
	{"GET", "/api/v1/tasks", "read"},
	{"POST", "/api/v1/tasks", "write"},
	{"GET", "/api/v1/tasks/{id}", "read"},
	{"PATCH", "/api/v1/tasks/{id}", "write"},
	{"DELETE", "/api/v1/tasks/{id}", "write"},
	{"GET", "/api/v1/pipelines", "read"},
	{"POST", "/api/v1/pipelines", "write"},
	{"GET", "/api/v1/pipelines/{id}", "read"},
	{"PATCH", "/api/v1/pipelines/{id}", "write"},
	{"DELETE", "/api/v1/pipelines/{id}", "write"},
	{"POST", "/api/v1/deals/import", "write"},
	{"GET", "/api/v1/deals", "read"},
	{"POST", "/api/v1/deals", "write"},
	{"GET", "/api/v1/deals/{id}", "read"},
	{"PATCH", "/api/v1/deals/{id}", "write"},
	{"DELETE", "/api/v1/deals/{id}", "write"},
	{"GET", "/api/v1/mailboxes", "read"},
	{"POST", "/api/v1/mailboxes", "write"},
	{"GET", "/api/v1/mailboxes/{id}", "read"},
	{"PATCH", "/api/v1/mailboxes/{id}", "write"},
	{"DELETE", "/api/v1/mailboxes/{id}", "write"},
	{"POST", "/api/v1/mailboxes/{id}/check", "write"},
	{"POST", "/api/v1/mailboxes/{id}/test", "write"},
	{"POST", "/api/v1/mailboxes/{id}/poll", "write"},
	{"GET", "/api/v1/suppressions", "read"},
	{"POST", "/api/v1/suppressions", "write"},
	{"GET", "/api/v1/suppressions/{id}", "read"},
	{"DELETE", "/api/v1/suppressions/{id}", "write"},
	{"GET", "/api/v1/export", "read"},
	{"GET", "/api/v1/templates", "read"},
	{"POST", "/api/v1/templates", "write"},
	{"GET", "/api/v1/templates/{id}", "read"},
	{"PATCH", "/api/v1/templates/{id}", "write"},
	{"DELETE", "/api/v1/templates/{id}", "write"},
	{"POST", "/api/v1/templates/{id}/preview", "write"},
	{"GET", "/api/v1/sequences", "read"},
	{"POST", "/api/v1/sequences", "write"},
	{"GET", "/api/v1/sequences/{id}", "read"},
	{"PATCH", "/api/v1/sequences/{id}", "write"},
	{"DELETE", "/api/v1/sequences/{id}", "write"},
	{"GET", "/api/v1/sequences/{id}/enrollments", "read"},
	{"POST", "/api/v1/sequences/{id}/enrollments", "write"},
	{"GET", "/api/v1/sequences/{id}/stats", "read"},
	{"POST", "/api/v1/sequences/{id}/activate", "write"},
	{"POST", "/api/v1/sequences/{id}/pause", "write"},
	{"GET", "/api/v1/messages", "read"},
	{"GET", "/api/v1/messages/{id}", "read"},
	{"POST", "/api/v1/messages/{id}/settle", "write"},
	{"GET", "/api/v1/replies", "read"},
	{"GET", "/api/v1/replies/{id}", "read"},
	{"PATCH", "/api/v1/replies/{id}", "write"},
}

// entityOf returns the collection a route is on ("contacts"…), or "".
func entityOf(r route) string {
	parts := strings.Split(strings.TrimPrefix(r.path, "/api/v1/"), "/")
	switch parts[0] {
	case "contacts", "companies", "notes", "tasks", "pipelines", "deals", "mailboxes", "templates", "sequences", "suppressions", "messages", "replies":
		return parts[0]
	}
	return ""
}

// apiWorkspace is a workspace with a write key, a read key and one record
// of each kind: a contact at a company, a note on the contact, a task on
// the company. Every text holds word, so a leak shows in any response.
type apiWorkspace struct {
	id, key, readKey             string
	keyID                        string
	word                         string
	contact, company, note, task string
	pipeline, deal               string
	mailbox                      string
	sequence                     string
	message                      string
	template                     string
	suppression                  string
	reply                        string
}

func (w *apiWorkspace) idOf(entity string) string {
	return map[string]string{"contacts": w.contact, "companies": w.company, "notes": w.note, "tasks": w.task,
		"pipelines": w.pipeline, "deals": w.deal, "mailboxes": w.mailbox, "templates": w.template, "sequences": w.sequence, "suppressions": w.suppression, "messages": w.message, "replies": w.reply}[entity]
}

// mustAPIWorkspace creates a workspace, its keys and its records.
func (ts *testServer) mustAPIWorkspace(tb testing.TB, name, word string) *apiWorkspace {
	tb.Helper()
	w := &apiWorkspace{id: ts.mustWorkspace(tb, name, ""), word: word}
	w.key, w.keyID = ts.mustAPIKey(tb, w.id, "write")
	w.readKey, _ = ts.mustAPIKey(tb, w.id, "read")
	w.company = ts.mustCreate(tb, w.key, "/api/v1/companies", `{"name":"`+word+` Inc","domain":"`+strings.ToLower(word)+`.example"}`)
	w.contact = ts.mustCreate(tb, w.key, "/api/v1/contacts", `{"first_name":"`+word+`","email":"`+strings.ToLower(word)+`@example.com","company_id":"`+w.company+`"}`)
	w.note = ts.mustCreate(tb, w.key, "/api/v1/notes", `{"contact_id":"`+w.contact+`","body":"`+word+` note"}`)
	w.task = ts.mustCreate(tb, w.key, "/api/v1/tasks", `{"company_id":"`+w.company+`","title":"`+word+` task"}`)
	w.pipeline = ts.mustCreate(tb, w.key, "/api/v1/pipelines", `{"name":"`+word+` pipeline"}`)
	w.deal = ts.mustCreate(tb, w.key, "/api/v1/deals", `{"title":"`+word+` deal","value":"1200.10","pipeline_id":"`+w.pipeline+`","contact_id":"`+w.contact+`"}`)
	// Port 1 of this machine refuses at once: checks fail fast.
	w.mailbox = ts.mustCreate(tb, w.key, "/api/v1/mailboxes", `{"name":"`+word+` sales","from_email":"`+strings.ToLower(word)+`@example.com",`+
		`"smtp_host":"127.0.0.1","smtp_port":1,"tls_mode":"none","password":"`+word+`-secret"}`)
	w.sequence = ts.mustCreate(tb, w.key, "/api/v1/sequences", `{"name":"`+word+` launch","mailbox_ids":["`+w.mailbox+`"],"steps":[{"kind":"task","task_title":"`+word+` call"}]}`)
	w.message = ts.mustLedgerRow(tb, w)
	w.reply = ts.mustAPIReply(tb, w)
	w.template = ts.mustCreate(tb, w.key, "/api/v1/templates", `{"name":"`+word+` intro","subject":"Hi {{first_name}}","body":"<p>`+word+` says hello</p>"}`)
	w.suppression = ts.mustCreate(tb, w.key, "/api/v1/suppressions", `{"email":"gone-`+strings.ToLower(word)+`@example.com","reason":"bounced"}`)
	return w
}

// mustAPIKey creates an API key in workspace id and returns it with its id.
func (ts *testServer) mustAPIKey(tb testing.TB, id, role string) (key, keyID string) {
	tb.Helper()
	lease, err := ts.tenants.Acquire(tb.Context(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer lease.Release()
	key, k, err := store.CreateAPIKey(tb.Context(), lease.DB, store.Actor{Kind: "user", ID: "test"}, id, "test "+role, role)
	if err != nil {
		tb.Fatal(err)
	}
	return key, k.ID
}

// api sends a request with key as the bearer token ("" for none).
func (ts *testServer) api(tb testing.TB, key, method, path, body string) response {
	tb.Helper()
	return ts.apiRaw(tb, "Bearer "+key, method, path, strings.NewReader(body))
}

// apiRaw sends a request with the given Authorization header ("" for none).
func (ts *testServer) apiRaw(tb testing.TB, authorization, method, path string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if authorization != "" && authorization != "Bearer " {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// mustCreate POSTs body and returns the new record's id.
func (ts *testServer) mustCreate(tb testing.TB, key, path, body string) string {
	tb.Helper()
	r := ts.api(tb, key, "POST", path, body)
	if r.status != http.StatusCreated {
		tb.Fatalf("POST %s: status %d: %s", path, r.status, r.body)
	}
	var rec struct{ ID string }
	mustDecode(tb, r.body, &rec)
	return rec.ID
}

func mustDecode(tb testing.TB, body string, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		tb.Fatalf("decoding %q: %v", body, err)
	}
}

// wantAPIError checks the status and that the body is exactly
// {"error":{"code","message"[,"field"]}} with the given code and field.
func wantAPIError(tb testing.TB, what string, r response, status int, code, field string) {
	tb.Helper()
	if r.status != status {
		tb.Errorf("%s: status %d, want %d: %s", what, r.status, status, r.body)
		return
	}
	var body struct {
		Error apiErrorBody `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error.Message == "" || body.Error.Code != code || body.Error.Field != field {
		tb.Errorf("%s: body %s, want code %q and field %q (%v)", what, r.body, code, field, err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s: Content-Type %q", what, ct)
	}
}

// bodyFor gives every write route of w a valid body, so a refusal is not a
// validation error in disguise.
func bodyFor(r route, w *apiWorkspace) string {
	if strings.HasSuffix(r.path, "/preview") {
		return `{"contact_id":"` + w.contact + `"}`
	}
	switch r.method + " " + entityOf(r) {
	case "POST contacts":
		return `{"first_name":"New"}`
	case "PATCH contacts":
		return `{"title":"Changed"}`
	case "POST companies":
		return `{"name":"New Co"}`
	case "PATCH companies":
		return `{"industry":"Changed"}`
	case "POST notes":
		return `{"contact_id":"` + w.contact + `","body":"New note"}`
	case "PATCH notes":
		return `{"body":"Changed"}`
	case "POST tasks":
		return `{"contact_id":"` + w.contact + `","title":"New task"}`
	case "PATCH replies":
		return `{"handled":true,"category":"interested"}`
	case "PATCH tasks":
		return `{"done":true}`
	case "POST pipelines":
		return `{"name":"New pipeline"}`
	case "PATCH pipelines":
		return `{"name":"Changed"}`
	case "POST deals":
		return `{"title":"New deal","value":"10.00"}`
	case "PATCH deals":
		return `{"status":"won"}`
	case "POST mailboxes":
		switch {
		case strings.HasSuffix(r.path, "/check"), strings.HasSuffix(r.path, "/poll"):
			return ""
		case strings.HasSuffix(r.path, "/test"):
			return `{"to":"someone@example.com"}`
		}
		return `{"name":"New","from_email":"new@example.com","smtp_host":"smtp.example.com"}`
	case "POST sequences":
		switch {
		case strings.HasSuffix(r.path, "/enrollments"):
			return `{"contact_ids":["` + w.contact + `"]}`
		case strings.HasSuffix(r.path, "/activate"), strings.HasSuffix(r.path, "/pause"):
			return ""
		}
		return `{"name":"New sequence"}`
	case "POST messages":
		return `{"as":"skip"}`
	case "PATCH sequences":
		return `{"stop_on_reply":false}`
	case "PATCH mailboxes":
		return `{"daily_limit":40}`
	case "POST templates":
		return `{"name":"New template","subject":"Hi","body":"Hello {{first_name}}"}`
	case "PATCH templates":
		return `{"subject":"Changed {{company}}"}`
	case "POST suppressions":
		return `{"email":"new@example.com"}`
	}
	return ""
}

// pathFor fills a route's {id} with id.
func pathFor(r route, id string) string {
	return strings.ReplaceAll(r.path, "{id}", id)
}

// mustLedgerRow enrolls the workspace's contact and leaves a ledger row of
// unknown delivery for its step.
func (ts *testServer) mustLedgerRow(tb testing.TB, w *apiWorkspace) string {
	tb.Helper()
	l, err := ts.tenants.Acquire(tb.Context(), w.id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	a := store.Actor{Kind: "system", ID: "test"}
	if _, err := store.Enroll(tb.Context(), l.DB, a, w.sequence, []string{w.contact}, nil, time.Now()); err != nil {
		tb.Fatal(err)
	}
	list, _, err := store.ListEnrollments(tb.Context(), l.DB, w.sequence, "", "", 1)
	if err != nil || len(list) != 1 {
		tb.Fatal(list, err)
	}
	seq, err := store.GetSequence(tb.Context(), l.DB, w.sequence)
	if err != nil {
		tb.Fatal(err)
	}
	return mustUnknownMessage(tb, l.DB, &list[0], seq.Steps[0].ID)
}
