package handlers

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// exportContacts streams every contact matching the list's filters as CSV
// or JSON, page by page, so memory stays flat however many there are.
func (s *Server) exportContacts(w http.ResponseWriter, r *http.Request, format string) {
	if format != "csv" && format != "json" {
		s.renderError(w, r, http.StatusBadRequest, "Export as csv or json.")
		return
	}
	if !s.mayExportLists(w, r) {
		return
	}
	wc := workspaceFrom(r)
	ctx := r.Context()
	f := contactFilter(r.URL.Query())
	f.Cursor, f.Limit = "", store.MaxLimit
	fields, err := store.CustomFields(ctx, wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	members, err := wc.svc.Members(ctx)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The first page is read before anything is sent, so a filter the
	// store refuses is an error page rather than an empty download.
	list, next, err := store.ListContacts(ctx, wc.lease.DB, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := fmt.Sprintf("contacts-%s.%s", time.Now().UTC().Format("2006-01-02"), format)
	download(w, "", name)
	out := newContactWriter(w, format, fields)
	out.owners = ownerEmails(members)
	for {
		for i := range list {
			out.write(&list[i])
		}
		if next == "" {
			break
		}
		f.Cursor = next
		if list, next, err = store.ListContacts(ctx, wc.lease.DB, f); err != nil {
			// Headers are sent; all that is left is to stop and log.
			s.log.Error("export contacts", "err", err)
			return
		}
	}
	out.close()
}

// contactWriter writes contacts as CSV rows or as a JSON array.
type contactWriter struct {
	w      http.ResponseWriter
	csv    *csv.Writer
	fields []store.CustomField
	owners map[string]string // member's user id → email, for the CSV
	n      int
}

// contactCSVHeader is the CSV export's header. Its owner is the member's
// email, which a person reads and which the import maps back to the member
// in any workspace they belong to (an id means nothing elsewhere).
var contactCSVHeader = []string{"id", "first_name", "last_name", "email", "phone", "title", "company", "company_id", "owner", "stage", "tags", "created_at", "updated_at"}

// ownerEmails maps the members' user ids to their emails.
func ownerEmails(members []store.Member) map[string]string {
	m := make(map[string]string, len(members))
	for _, mb := range members {
		m[mb.UserID] = mb.Email
	}
	return m
}

// ownerEmail is the email of a contact's owner. One who is no longer a
// member keeps the id the contact holds: the import then refuses that row,
// naming it, rather than dropping the owner unseen.
func (cw *contactWriter) ownerEmail(id string) string {
	if email, ok := cw.owners[id]; ok {
		return email
	}
	return id
}

func newContactWriter(w http.ResponseWriter, format string, fields []store.CustomField) *contactWriter {
	cw := &contactWriter{w: w, fields: fields}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		// A byte-order mark, or Excel on Windows reads the UTF-8 as a
		// legacy code page (Nuñez becomes NuÃ±ez); the importer skips it.
		w.Write([]byte("\ufeff"))
		cw.csv = csv.NewWriter(w)
		header := append([]string{}, contactCSVHeader...)
		for _, f := range fields {
			header = append(header, "custom."+f.Key)
		}
		cw.csv.Write(header)
		return cw
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("["))
	return cw
}

func (cw *contactWriter) write(c *store.Contact) {
	if cw.csv == nil {
		if cw.n > 0 {
			cw.w.Write([]byte(","))
		}
		b, _ := json.Marshal(c)
		cw.w.Write(b)
		cw.n++
		return
	}
	row := []string{c.ID, c.FirstName, c.LastName, c.Email, c.Phone, c.Title, c.Company, c.CompanyID, cw.ownerEmail(c.OwnerID), c.Stage,
		strings.Join(c.Tags, ";"), c.CreatedAt.UTC().Format(time.RFC3339), c.UpdatedAt.UTC().Format(time.RFC3339)}
	for _, f := range cw.fields {
		row = append(row, store.CustomText(c.Custom[f.Key]))
	}
	for i, v := range row {
		row[i] = store.CSVSafe(v)
	}
	cw.csv.Write(row)
}

func (cw *contactWriter) close() {
	if cw.csv != nil {
		cw.csv.Flush()
		return
	}
	cw.w.Write([]byte("]\n"))
}

func itoa(n int) string { return strconv.Itoa(n) }

// exportWorkspace streams the workspace export archive: a consistent
// SQLite snapshot plus CSV and JSON of every table, and a manifest.
//
// POSTed from the settings page with a passphrase, the archive comes
// protected by it (see tenant.Manager.ExportTo).
func (s *Server) exportWorkspace(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if r.Method == http.MethodPost {
		if err := tenant.CheckPassphrase(r.PostForm.Get("passphrase")); err != nil {
			s.flash(w, r, "error", store.ErrorMessage(err))
			http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings")+"#export", http.StatusSeeOther)
			return
		}
	}
	s.streamExport(w, r, wc.ws, wc.lease, s.actor(r), s.fail)
}

// ExportPassphraseHeader, on GET /api/v1/export, asks for the archive
// protected with the passphrase it holds (a header, not the URL: URLs
// end up in logs).
const ExportPassphraseHeader = "X-Atrium-Export-Passphrase"

// exportPassphrase is the passphrase a request gives its export, if any.
func exportPassphrase(r *http.Request) string {
	if r.Method == http.MethodPost {
		return r.PostForm.Get("passphrase")
	}
	return r.Header.Get(ExportPassphraseHeader)
}

// streamExport sends the export archive of a workspace as a download as
// it is built, and records the export in its audit log; the UI and the API
// both use it. Nothing is sent before the archive's first bytes, so an
// export that fails before them (a passphrase too short, a snapshot that
// cannot be taken) is an error page; one that fails later is a cut
// download, and logged.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request, ws *store.Workspace, lease *tenant.Lease, a store.Actor, fail func(http.ResponseWriter, *http.Request, error)) {
	name := fmt.Sprintf("atrium-%s-%s.zip", ws.ID, time.Now().UTC().Format("20060102-150405"))
	kind := "application/zip"
	passphrase := exportPassphrase(r)
	if passphrase != "" {
		name, kind = name+".age", "application/octet-stream"
	}
	out := &downloadWriter{w: w, rc: http.NewResponseController(w), start: func() error {
		// Audited before anything leaves.
		if err := store.Audit(r.Context(), lease.DB, a, "workspace.export", "workspace", ws.ID); err != nil {
			return err
		}
		download(w, kind, name)
		return nil
	}}
	if _, err := s.tenants.ExportTo(r.Context(), lease, out, passphrase); err != nil {
		if !out.started {
			fail(w, r, err)
			return
		}
		s.log.Warn("export download cut short", "workspace", ws.ID, "err", err)
	}
}

// exportWriteTimeout is how long a download may wait for its client to
// take the next bytes: an export holds a job slot while it streams.
const exportWriteTimeout = 30 * time.Second

// downloadWriter sends a download's headers (start) with its first bytes,
// and gives each write its own deadline.
type downloadWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	start   func() error
	started bool
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	if !d.started {
		if err := d.start(); err != nil {
			return 0, err
		}
		d.started = true
	}
	if err := d.rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return d.w.Write(p)
}
