package handlers

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"atrium/store"
)

// pages are the parsed page templates, each with the layout and partials.
type pages struct {
	byName map[string]*template.Template
	// inPlace holds the "inPlace" partial's attributes for each list
	// container whose rows are written in Go (contactRowsHTML), executed
	// once here: the partial stays their one definition.
	inPlace map[string]string
}

// parsePages parses every templates/pages/*.html with the layout and the
// partials, once, at start-up: a missing or broken template fails here.
func parsePages(assets fs.FS) (*pages, error) {
	files, err := fs.Glob(assets, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no page templates found under templates/pages")
	}
	p := &pages{byName: map[string]*template.Template{}, inPlace: map[string]string{}}
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".html")
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(assets, "templates/layout.html", "templates/partials/*.html", file)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", file, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("template %s does not define \"content\"", file)
		}
		p.byName[name] = t
	}
	for _, required := range requiredPages {
		if p.byName[required] == nil {
			return nil, fmt.Errorf("template templates/pages/%s.html is missing", required)
		}
	}
	partials, err := template.New("partials").Funcs(templateFuncs).ParseFS(assets, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	for _, id := range goRenderedLists {
		var b strings.Builder
		if err := partials.ExecuteTemplate(&b, "inPlace", id); err != nil {
			return nil, fmt.Errorf("template inPlace: %w", err)
		}
		p.inPlace[id] = b.String()
	}
	return p, nil
}

// goRenderedLists are the containers of the lists whose rows are written
// in Go (see pages.inPlace).
var goRenderedLists = []string{"contacts-list"}

// requiredPages are the pages the handlers render.
var requiredPages = []string{"error", "login", "setup", "home", "account", "admin", "workspace", "settings", "members", "invitation",
	"mailboxes", "mailbox", "mailbox_form", "sequences", "sequence", "sequence_stats", "analytics", "suppressions", "unsubscribe",
	"contacts", "contact", "contact_form", "confirm", "search", "audit", "fields",
	"companies", "company", "company_form", "company_merge", "contact_merge", "apikeys", "deals", "deal", "deal_form", "pipelines", "import",
	"templates", "template", "template_form", "console", "usage", "portfolio", "twofactor", "forgot_password", "reset_password", "bulk_job"}

// view is what every page gets: who is asking, where, the CSRF token of
// this scope, flash messages, the form, and the page's own data.
type view struct {
	Title     string
	User      *store.User
	Workspace *store.Workspace
	Role      string
	// Workspaces are the first switcherShown of the user's workspaces, for
	// the switcher; MoreWorkspaces says there are more (it then offers a
	// search).
	Workspaces     []store.MemberWorkspace
	MoreWorkspaces bool
	Section        string
	CSRF           string // token for forms of this page's workspace
	CSRFGlobal     string // token for forms outside any workspace (switch, sign out)
	Flashes        []flashMessage
	Form           *form
	// Clock writes times as the user has them shown (see clock.go).
	Clock clock
	Page  any
}

type flashMessage struct {
	Kind, Text string
}

// newView builds the common part of a page's data.
func (s *Server) newView(r *http.Request, title string) *view {
	a := authFrom(r)
	v := &view{Title: title, User: a.user, Form: newForm(nil), Clock: clockOf(a.user)}
	scope := ""
	if wc := workspaceFrom(r); wc != nil {
		v.Workspace, v.Role = wc.ws, wc.role
		scope = wc.ws.ID
	}
	v.CSRF = csrfToken(a.seed, scope)
	v.CSRFGlobal = csrfToken(a.seed, "")
	if a.user != nil {
		ws, more, err := store.SwitcherWorkspaces(r.Context(), s.catalog.R, a.user.ID, "", switcherShown)
		if err != nil {
			s.log.Error("list workspaces for switcher", "err", err)
		}
		v.Workspaces, v.MoreWorkspaces = ws, more
	}
	return v
}

// render executes a page into a buffer, then writes the status and body, so
// a template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t := s.pages.byName[page]
	if t == nil {
		s.serverError(w, r, fmt.Errorf("no page template %q", page))
		return
	}
	if a := authFrom(r); a.cookie != nil {
		for _, kind := range []string{"success", "error"} {
			for _, f := range a.cookie.Flashes(kind) {
				v.Flashes = append(v.Flashes, flashMessage{Kind: kind, Text: fmt.Sprint(f)})
			}
		}
		if len(v.Flashes) > 0 {
			s.saveCookie(w, r, a.cookie)
		}
	}
	s.execute(w, r, status, t, "layout", v)
}

// renderPartial executes one template of a page (a fragment for htmx).
func (s *Server) renderPartial(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	t := s.pages.byName[page]
	if t == nil || t.Lookup(name) == nil {
		s.serverError(w, r, fmt.Errorf("no template %s/%s", page, name))
		return
	}
	s.execute(w, r, http.StatusOK, t, name, data)
}

// execute runs the template name of t into a pooled buffer, then writes
// the status and body.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, status int, t *template.Template, name string, data any) {
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := t.ExecuteTemplate(buf, name, data); err != nil {
		if t == s.pages.byName["error"] {
			// The error page itself failed: showing it again would fail
			// again, without end.
			s.log.Error("render the error page", "method", r.Method, "path", r.URL.Path, "err", err)
			http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
			return
		}
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// renderBuffers keeps the buffers pages are rendered into: grown anew for
// each page, a list page's buffer was a third of what its request
// allocated (BenchmarkContactList100k).
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxKeptRenderBuffer bounds the buffers kept: a rare huge page does not
// hold its memory for good.
const maxKeptRenderBuffer = 1 << 20

func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxKeptRenderBuffer {
		return
	}
	buf.Reset()
	renderBuffers.Put(buf)
}

// form holds submitted values and per-field errors; invalid input
// re-renders the page with 422, the values kept. After a stale write (see
// conflicts.go), Theirs holds, by field, the value someone else saved
// meanwhile where it differs from the one sent, and Discard where to go
// to drop the values sent.
type form struct {
	Values  url.Values
	Errors  map[string]string
	Theirs  map[string]string
	Discard string
}

func newForm(values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	return &form{Values: values, Errors: map[string]string{}, Theirs: map[string]string{}}
}

// Get returns a submitted value, trimmed.
func (f *form) Get(name string) string { return strings.TrimSpace(f.Values.Get(name)) }

// Fail records an error for a field; the first one stays.
func (f *form) Fail(name, msg string) {
	if _, ok := f.Errors[name]; !ok {
		f.Errors[name] = msg
	}
}

// FormError is the error of the whole form, one no field is at fault for
// (recorded with Fail("", msg)); the layout shows it above the page.
func (f *form) FormError() string { return f.Errors[""] }

// Valid reports whether no field failed.
func (f *form) Valid() bool { return len(f.Errors) == 0 }

// field is one form field for the "field" partial. Theirs is the value
// someone else saved meanwhile, when it differs from Value.
type field struct {
	Name, Label, Type, Value, Error, Help, Autocomplete, Theirs string
	Required, Autofocus                                         bool
	Options                                                     []string
}

// DescribedBy lists the ids of the texts that describe the input: its
// error, else its help; and the value saved meanwhile.
func (fd field) DescribedBy() string {
	var ids []string
	switch {
	case fd.Error != "":
		ids = append(ids, "e-"+fd.Name)
	case fd.Help != "":
		ids = append(ids, "h-"+fd.Name)
	}
	if fd.Theirs != "" {
		ids = append(ids, "t-"+fd.Name)
	}
	return strings.Join(ids, " ")
}

// makeField builds a field of f; opts are "required", "autofocus",
// "help=…", "autocomplete=…" or "options=a,b,c".
func makeField(f *form, name, label, typ string, opts ...string) field {
	fd := field{Name: name, Label: label, Type: typ, Value: f.Values.Get(name), Error: f.Errors[name], Theirs: f.Theirs[name]}
	if typ == "password" {
		fd.Value = "" // never echo a password back
	}
	for _, o := range opts {
		key, val, _ := strings.Cut(o, "=")
		switch key {
		case "required":
			fd.Required = true
		case "autofocus": // "autofocus=false" for a field that only sometimes has it
			fd.Autofocus = val != "false"
		case "help":
			fd.Help = val
		case "autocomplete":
			fd.Autocomplete = val
		case "options":
			fd.Options = strings.Split(val, ",")
		}
	}
	return fd
}

var templateFuncs = template.FuncMap{
	"field":         makeField,
	"wsURL":         workspaceURL,
	"weekdayNames":  weekdayList,
	"list":          func(s ...string) []string { return s },
	"replyCategory": categoryLabel,
	"bytes":         store.HumanBytes,
	"int64":         func(n uint64) int64 { return int64(n) },
	"accent":        accentClass,
	"initial":       initial,
	"roleAtLeast":   func(role, min string) bool { return store.RoleRank(role) >= store.RoleRank(min) },
	"roles":         func() []string { return store.Roles },
	"join":          strings.Join,
	"withParams":    withParams,
	"money":         store.GroupMoney,
	"meterLabel":    func(m string) string { return meterLabels[m] },
	"unitPrice":     unitPrice,
	"toggleDir":     toggleDir,
	"sortMark":      sortMark,
	"stages":        func() []string { return store.Stages },
	"customText":    store.CustomText,
	"has":           slices.Contains[[]string],
	"timelineLabel": timelineLabel,
	"changeText":    store.ValueText,
	"dict":          dict,
	"memberName":    memberName,
	"dealStatuses":  func() []string { return store.DealStatuses },
	"sub":           func(a, b int) int { return a - b },
	"percent":       func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"add":           func(a, b int) int { return a + b },
	"hasPrefix":     strings.HasPrefix,
	"companySizes":  func() []string { return store.CompanySizes },
	"count":         countOf,
	"groupInt":      func(n int) string { return store.GroupThousands(int64(n)) },
	"plural":        pluralOf,
	"companyDir": func(f store.CompanyFilter, key string) string {
		return toggleDir(store.ContactFilter{Sort: f.Sort, Asc: f.Asc}, key)
	},
}

// countOf says how many of a thing there are, the noun agreeing with the
// number and the number grouped by thousands: "1 contact", "4,956
// contacts". n is any integer; anything else fails the page.
func countOf(n any, one, many string) (string, error) {
	i, err := toInt64(n)
	if err != nil {
		return "", err
	}
	return countText(int(i), one, many), nil
}

// pluralOf is one when n is 1, else many: the verb or noun that agrees
// with a count ("1 contact matches", "3 contacts match").
func pluralOf(n any, one, many string) (string, error) {
	i, err := toInt64(n)
	if err != nil || i != 1 {
		return many, err
	}
	return one, nil
}

// toInt64 takes any integer a template holds.
func toInt64(n any) (int64, error) {
	v := reflect.ValueOf(n)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint()), nil
	}
	return 0, fmt.Errorf("count: %T is not an integer", n)
}

// accentClass gives each workspace one of eight accent colours, derived from
// its id, so clients are told apart at a glance.
func accentClass(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("accent-%d", h.Sum32()%8)
}

func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// withParams returns "?" and the query with keys set to values ("" removes).
func withParams(q url.Values, kv ...string) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return "?" + out.Encode()
}

// toggleDir is the direction a sort link asks for: the other one when the
// list is sorted by that key already, else the key's natural direction.
func toggleDir(f store.ContactFilter, key string) string {
	current := f.Sort
	if current == "" {
		current = "created"
	}
	switch {
	case current == key && f.Asc:
		return "desc"
	case current == key:
		return "asc"
	case key == "name":
		return "asc"
	}
	return "desc"
}

func sortMark(f store.ContactFilter, key string) string {
	current := f.Sort
	if current == "" {
		current = "created"
	}
	switch {
	case current != key:
		return ""
	case f.Asc:
		return " ↑"
	}
	return " ↓"
}

var timelineLabels = map[string]string{"created": "created", "changed": "changed", "note": "note", "task": "task", "task_done": "task done",
	"deal_open": "deal", "deal_won": "deal won", "deal_lost": "deal lost", "enrolled": "enrolled", "email_sent": "email sent",
	"email_replied": "replied", "imported": "imported", "merged": "merged"}

func timelineLabel(kind string) string {
	if l, ok := timelineLabels[kind]; ok {
		return l
	}
	return kind
}

// dict builds a map from key/value pairs, for ranging in templates.
func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// download makes the response a file to save, named name (of contentType,
// when given). Exports hold a workspace's data: no cache may keep a copy.
func download(w http.ResponseWriter, contentType, name string) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
}
