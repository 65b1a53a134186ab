// Package handlers is Atrium's HTTP layer: routes, middleware, pages and the
// JSON API. Every workspace route acts on the lease of the workspace in its
// URL, taken by middleware after the membership check, never on a workspace
// id taken from anywhere else.
package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"

	"atrium/store"
	"atrium/tenant"
)

// Config is what the HTTP layer needs from the program.
type Config struct {
	Tenants *tenant.Manager
	Logger  *slog.Logger
	// Assets holds templates/ and static/.
	Assets fs.FS
	// TrustProxy trusts X-Forwarded-Proto and X-Forwarded-For from the
	// reverse proxy in front of Atrium.
	TrustProxy bool
	// TrustedProxies are further proxies (behind the one in front) whose
	// X-Forwarded-For entries are skipped to find the client; only used
	// with TrustProxy.
	TrustedProxies []netip.Prefix
	// Metrics are the instance's metrics (NewMetrics); nil makes new ones.
	// MetricsToken, when set, opens /metrics on this handler to
	// "Authorization: Bearer <token>" besides clients on this machine.
	Metrics      *Metrics
	MetricsToken string
}

// Server holds what the handlers share.
type Server struct {
	tenants    *tenant.Manager
	catalog    *store.Catalog
	log        *slog.Logger
	pages      *pages
	cookies    *sessions.CookieStore
	limiter    *loginLimiter
	resets     *loginLimiter // password reset requests; see passwordreset.go
	buckets    *buckets      // request rates per workspace and API key
	imports    importUploads
	trustProxy bool
	// trustedProxies are the X-Forwarded-For hops skipped besides the peer.
	trustedProxies []netip.Prefix
	static         http.Handler
	metrics        *Metrics
	metricsToken   string
}

// New builds the HTTP handler of the whole application. It fails when a
// template is missing or broken, so that shows at start-up.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	pg, err := parsePages(cfg.Assets)
	if err != nil {
		return nil, err
	}
	keys, err := cookieKeys(ctx, cfg.Tenants.Catalog())
	if err != nil {
		return nil, fmt.Errorf("cannot load the session keys: %w", err)
	}
	staticFS, err := fs.Sub(cfg.Assets, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		tenants:        cfg.Tenants,
		catalog:        cfg.Tenants.Catalog(),
		log:            cfg.Logger,
		pages:          pg,
		cookies:        newCookieStore(keys),
		limiter:        newLoginLimiter(),
		resets:         newLoginLimiter(),
		buckets:        newBuckets(),
		trustProxy:     cfg.TrustProxy,
		trustedProxies: cfg.TrustedProxies,
		static:         http.StripPrefix("/static/", http.FileServer(http.FS(staticFS))),
		metrics:        cfg.Metrics,
		metricsToken:   cfg.MetricsToken,
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(cfg.Tenants)
	}
	return s.routes(), nil
}

// routes registers every route, layered by purpose: log and metrics,
// recover and headers for all; then the session; then sign-in; then workspace
// membership; then CSRF; then role.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	// mux does not run middleware for these two, so they get theirs here.
	r.NotFoundHandler = s.observeUnmatched(s.secureHeaders(http.HandlerFunc(s.notFound)))
	r.MethodNotAllowedHandler = s.observeUnmatched(s.secureHeaders(http.HandlerFunc(s.methodNotAllowed)))
	r.Use(s.observe, s.recoverPanics, s.secureHeaders, s.limitBodyTime)

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.HandleFunc("/metrics", s.serveMetrics).Methods(http.MethodGet)
	// Unsubscribe links: no session and no CSRF check, by design (see
	// suppressions.go).
	r.HandleFunc("/u/{token}", s.unsubscribeForm).Methods(http.MethodGet)
	r.HandleFunc("/u/{token}", s.unsubscribe).Methods(http.MethodPost)
	// Open pixel and click redirect: public, like unsubscribe links (see
	// tracking.go).
	r.HandleFunc("/t/o/{token}", s.trackOpen).Methods(http.MethodGet)
	r.HandleFunc("/t/c/{token}", s.trackClick).Methods(http.MethodGet)
	r.PathPrefix("/static/").Handler(s.cacheStatic(s.static)).Methods(http.MethodGet, http.MethodHead)
	s.apiRoutes(r.PathPrefix("/api/v1").Subrouter())

	// CSRF is checked after authentication and membership, so an anonymous
	// caller is sent to sign in and a non-member gets 404 whatever they send.
	web := r.NewRoute().Subrouter()
	web.Use(s.loadSession)

	public := web.NewRoute().Subrouter()
	public.Use(s.checkCSRF(false))
	public.HandleFunc("/setup", s.setupForm).Methods(http.MethodGet)
	public.HandleFunc("/setup", s.setup).Methods(http.MethodPost)
	public.HandleFunc("/login", s.loginForm).Methods(http.MethodGet)
	public.HandleFunc("/login", s.login).Methods(http.MethodPost)
	public.HandleFunc("/login/2fa", s.secondFactorForm).Methods(http.MethodGet)
	public.HandleFunc("/login/2fa", s.secondFactor).Methods(http.MethodPost)
	public.HandleFunc("/logout", s.logout).Methods(http.MethodPost)
	public.HandleFunc("/login/forgot", s.forgotPasswordForm).Methods(http.MethodGet)
	public.HandleFunc("/login/forgot", s.forgotPassword).Methods(http.MethodPost)
	public.HandleFunc("/reset/{token}", s.resetPasswordForm).Methods(http.MethodGet)
	public.HandleFunc("/reset/{token}", s.resetPassword).Methods(http.MethodPost)
	public.HandleFunc("/invite/{token}", s.invitation).Methods(http.MethodGet)
	public.HandleFunc("/invite/{token}", s.acceptInvitation).Methods(http.MethodPost)

	user := web.NewRoute().Subrouter()
	user.Use(s.requireUser, s.enforceTwoFactor)

	account := user.NewRoute().Subrouter()
	account.Use(s.checkCSRF(true))
	account.HandleFunc("/", s.home).Methods(http.MethodGet)
	account.HandleFunc("/workspaces", s.createWorkspace).Methods(http.MethodPost)
	account.HandleFunc("/workspaces/import", s.importWorkspace).Methods(http.MethodPost)
	account.HandleFunc("/switch", s.switchWorkspace).Methods(http.MethodPost)
	account.HandleFunc("/switcher", s.switcherList).Methods(http.MethodGet)
	account.HandleFunc("/workspaces/{id}/untrash", s.untrashWorkspace).Methods(http.MethodPost)
	account.HandleFunc("/account", s.account).Methods(http.MethodGet)
	account.HandleFunc("/account/password", s.changePassword).Methods(http.MethodPost)
	account.HandleFunc("/account/preferences", s.setPreferences).Methods(http.MethodPost)
	account.HandleFunc("/logout-everywhere", s.logoutEverywhere).Methods(http.MethodPost)
	account.HandleFunc("/my-tasks", s.myTasks).Methods(http.MethodGet)
	account.HandleFunc("/my-tasks/counts", s.myTaskCounts).Methods(http.MethodGet)
	account.HandleFunc("/account/2fa", s.twoFactorSetup).Methods(http.MethodGet)
	account.HandleFunc("/account/2fa/enable", s.enableTwoFactor).Methods(http.MethodPost)
	account.HandleFunc("/account/2fa/disable", s.disableTwoFactor).Methods(http.MethodPost)
	account.HandleFunc("/account/2fa/recovery-codes", s.newRecoveryCodes).Methods(http.MethodPost)
	account.Handle("/admin/two-factor", s.requireSuperadmin(http.HandlerFunc(s.setRequireTwoFactor))).Methods(http.MethodPost)
	account.Handle("/admin", s.requireSuperadmin(http.HandlerFunc(s.admin))).Methods(http.MethodGet)
	// The console: superadmins, and agency owners over the workspaces
	// they own (requireConsole).
	account.Handle("/console", s.requireConsole(s.console)).Methods(http.MethodGet)
	account.Handle("/console/workspaces.csv", s.requireConsole(s.consoleCSV)).Methods(http.MethodGet)
	account.Handle("/console/portfolio", s.requireConsole(s.consolePortfolioPage)).Methods(http.MethodGet)
	account.Handle("/console/usage", s.requireConsole(s.consoleUsage)).Methods(http.MethodGet)
	account.Handle("/console/usage/{id}", s.requireConsole(s.consoleWorkspaceUsage)).Methods(http.MethodGet)
	account.Handle("/admin/workspaces/{id}/plan", s.requireSuperadmin(http.HandlerFunc(s.setWorkspacePlan))).Methods(http.MethodPost)
	account.Handle("/admin/suppressions", s.requireSuperadmin(http.HandlerFunc(s.addInstanceSuppression))).Methods(http.MethodPost)
	account.Handle("/admin/suppressions/delete", s.requireSuperadmin(http.HandlerFunc(s.removeInstanceSuppression))).Methods(http.MethodPost)

	ws := user.PathPrefix("/w/{workspace}").Subrouter()
	ws.Use(s.workspace, s.checkCSRF(true))
	read, write := s.requireRole("viewer"), s.requireRole("member")
	admin, owner := s.requireRole("admin"), s.requireRole("owner")
	ws.Handle("/", read(http.HandlerFunc(s.workspaceHome))).Methods(http.MethodGet)
	ws.Handle("/settings", read(http.HandlerFunc(s.settings))).Methods(http.MethodGet)
	ws.Handle("/settings", admin(http.HandlerFunc(s.renameWorkspace))).Methods(http.MethodPost)
	ws.Handle("/delete", owner(http.HandlerFunc(s.deleteWorkspace))).Methods(http.MethodPost)
	ws.Handle("/restore", owner(http.HandlerFunc(s.restoreWorkspace))).Methods(http.MethodPost)
	ws.Handle("/settings/retention", admin(http.HandlerFunc(s.setRetention))).Methods(http.MethodPost)
	ws.Handle("/settings/list-export", admin(http.HandlerFunc(s.setListExport))).Methods(http.MethodPost)
	ws.Handle("/export", admin(http.HandlerFunc(s.exportWorkspace))).Methods(http.MethodGet, http.MethodPost)
	ws.Handle("/members", read(http.HandlerFunc(s.members))).Methods(http.MethodGet)
	ws.Handle("/members/invite", admin(http.HandlerFunc(s.invite))).Methods(http.MethodPost)
	ws.Handle("/members/{user}", admin(http.HandlerFunc(s.changeRole))).Methods(http.MethodPost)
	ws.Handle("/members/{user}/remove", admin(http.HandlerFunc(s.removeMember))).Methods(http.MethodPost)
	ws.Handle("/invitations/{invitation}/revoke", admin(http.HandlerFunc(s.revokeInvitation))).Methods(http.MethodPost)
	ws.Handle("/settings/fields", read(http.HandlerFunc(s.fields))).Methods(http.MethodGet)
	ws.Handle("/settings/fields", admin(http.HandlerFunc(s.createField))).Methods(http.MethodPost)
	ws.Handle("/settings/fields/{field}", admin(http.HandlerFunc(s.updateField))).Methods(http.MethodPost)
	ws.Handle("/settings/fields/{field}/move", admin(http.HandlerFunc(s.moveField))).Methods(http.MethodPost)
	ws.Handle("/settings/fields/{field}/delete", admin(http.HandlerFunc(s.deleteField))).Methods(http.MethodPost)

	ws.Handle("/email-accounts", read(http.HandlerFunc(s.mailboxes))).Methods(http.MethodGet)
	ws.Handle("/email-accounts", admin(http.HandlerFunc(s.createMailbox))).Methods(http.MethodPost)
	ws.Handle("/email-accounts/new", admin(http.HandlerFunc(s.newMailbox))).Methods(http.MethodGet)
	ws.Handle("/email-accounts/{mailbox}", read(http.HandlerFunc(s.mailbox))).Methods(http.MethodGet)
	ws.Handle("/email-accounts/{mailbox}", admin(http.HandlerFunc(s.updateMailbox))).Methods(http.MethodPost)
	ws.Handle("/email-accounts/{mailbox}/edit", admin(http.HandlerFunc(s.editMailbox))).Methods(http.MethodGet)
	ws.Handle("/email-accounts/{mailbox}/check", admin(http.HandlerFunc(s.checkMailbox))).Methods(http.MethodPost)
	ws.Handle("/email-accounts/{mailbox}/test", admin(http.HandlerFunc(s.testMailbox))).Methods(http.MethodPost)
	ws.Handle("/email-accounts/{mailbox}/poll", admin(http.HandlerFunc(s.pollMailbox))).Methods(http.MethodPost)
	ws.Handle("/email-accounts/{mailbox}/delete", admin(http.HandlerFunc(s.confirmDeleteMailbox))).Methods(http.MethodGet)
	ws.Handle("/email-accounts/{mailbox}/delete", admin(http.HandlerFunc(s.deleteMailbox))).Methods(http.MethodPost)
	ws.Handle("/sequences", read(http.HandlerFunc(s.sequences))).Methods(http.MethodGet)
	ws.Handle("/sequences", write(http.HandlerFunc(s.createSequence))).Methods(http.MethodPost)
	ws.Handle("/sequences/{sequence}", read(http.HandlerFunc(s.sequence))).Methods(http.MethodGet)
	ws.Handle("/sequences/{sequence}", write(http.HandlerFunc(s.updateSequence))).Methods(http.MethodPost)
	ws.Handle("/analytics", read(http.HandlerFunc(s.analytics))).Methods(http.MethodGet)
	ws.Handle("/sequences/{sequence}/stats", read(http.HandlerFunc(s.sequenceStats))).Methods(http.MethodGet)
	ws.Handle("/sequences/{sequence}/steps", write(http.HandlerFunc(s.addStep))).Methods(http.MethodPost)
	ws.Handle("/sequences/{sequence}/steps/{step}/delete", write(http.HandlerFunc(s.removeStep))).Methods(http.MethodPost)
	ws.Handle("/sequences/{sequence}/state", write(http.HandlerFunc(s.setSequenceState))).Methods(http.MethodPost)
	ws.Handle("/sequences/{sequence}/enrollments/{enrollment}/state", write(http.HandlerFunc(s.setEnrollmentState))).Methods(http.MethodPost)
	ws.Handle("/sequences/{sequence}/messages/{message}/settle", write(http.HandlerFunc(s.settleMessage))).Methods(http.MethodPost)
	ws.Handle("/inbox", read(http.HandlerFunc(s.inbox))).Methods(http.MethodGet)
	ws.Handle("/inbox/{reply}", write(http.HandlerFunc(s.updateReply))).Methods(http.MethodPost)
	ws.Handle("/inbox/{reply}/stop", write(http.HandlerFunc(s.stopOnAutoReply))).Methods(http.MethodPost)
	ws.Handle("/suppressions", read(http.HandlerFunc(s.suppressions))).Methods(http.MethodGet)
	ws.Handle("/suppressions", admin(http.HandlerFunc(s.createSuppression))).Methods(http.MethodPost)
	ws.Handle("/suppressions/{suppression}/delete", admin(http.HandlerFunc(s.confirmDeleteSuppression))).Methods(http.MethodGet)
	ws.Handle("/suppressions/{suppression}/delete", admin(http.HandlerFunc(s.deleteSuppression))).Methods(http.MethodPost)
	ws.Handle("/contacts", read(http.HandlerFunc(s.contacts))).Methods(http.MethodGet)
	ws.Handle("/contacts", write(http.HandlerFunc(s.createContact))).Methods(http.MethodPost)
	ws.Handle("/contacts/new", write(http.HandlerFunc(s.newContact))).Methods(http.MethodGet)
	ws.Handle("/contacts/bulk", write(http.HandlerFunc(s.bulkContacts))).Methods(http.MethodPost)
	ws.Handle("/contacts/bulk/{job}", write(http.HandlerFunc(s.bulkJob))).Methods(http.MethodGet)
	// A user's own preferences of the list: viewers too.
	ws.Handle("/contacts/columns", read(http.HandlerFunc(s.saveContactColumns))).Methods(http.MethodPost).Name(ownPreferencePrefix + "contacts-columns")
	ws.Handle("/contacts/views", read(http.HandlerFunc(s.createView))).Methods(http.MethodPost).Name(ownPreferencePrefix + "create-view")
	ws.Handle("/contacts/views/{view}", read(http.HandlerFunc(s.updateView))).Methods(http.MethodPost).Name(ownPreferencePrefix + "update-view")
	ws.Handle("/contacts/views/{view}/delete", read(http.HandlerFunc(s.deleteView))).Methods(http.MethodPost).Name(ownPreferencePrefix + "delete-view")
	ws.Handle("/contacts/import", write(http.HandlerFunc(s.importForm))).Methods(http.MethodGet)
	ws.Handle("/contacts/import", write(http.HandlerFunc(s.uploadImport))).Methods(http.MethodPost)
	ws.Handle("/contacts/import/{job}", write(http.HandlerFunc(s.importJobPage))).Methods(http.MethodGet)
	ws.Handle("/contacts/import/{job}", write(http.HandlerFunc(s.startImport))).Methods(http.MethodPost)
	ws.Handle("/contacts/import/{job}/errors.csv", write(http.HandlerFunc(s.importErrors))).Methods(http.MethodGet)
	ws.Handle("/contacts/import/{job}/summary.csv", write(http.HandlerFunc(s.importSummary))).Methods(http.MethodGet)
	for _, kind := range []recordImport{recordImports["companies"], recordImports["deals"]} {
		ws.Handle("/"+kind.Entity+"/import", write(s.recordImportForm(kind))).Methods(http.MethodGet)
		ws.Handle("/"+kind.Entity+"/import", write(s.uploadRecordImport(kind))).Methods(http.MethodPost)
		ws.Handle("/"+kind.Entity+"/import/{job}", write(s.recordImportJob(kind))).Methods(http.MethodGet)
		ws.Handle("/"+kind.Entity+"/import/{job}", write(s.runRecordImport(kind))).Methods(http.MethodPost)
		ws.Handle("/"+kind.Entity+"/import/{job}/summary.csv", write(s.recordImportSummary(kind))).Methods(http.MethodGet)
	}
	ws.Handle("/contacts/{contact}", read(http.HandlerFunc(s.contact))).Methods(http.MethodGet)
	ws.Handle("/contacts/{contact}", write(http.HandlerFunc(s.updateContact))).Methods(http.MethodPost)
	ws.Handle("/contacts/{contact}/edit", write(http.HandlerFunc(s.editContact))).Methods(http.MethodGet)
	ws.Handle("/contacts/{contact}/delete", write(http.HandlerFunc(s.confirmDeleteContact))).Methods(http.MethodGet)
	ws.Handle("/contacts/{contact}/delete", write(http.HandlerFunc(s.deleteContact))).Methods(http.MethodPost)
	ws.Handle("/contacts/{contact}/merge", write(http.HandlerFunc(s.mergeContact))).Methods(http.MethodGet)
	ws.Handle("/contacts/{contact}/merge", write(http.HandlerFunc(s.mergeContactPost))).Methods(http.MethodPost)
	ws.Handle("/contacts/{contact}/erase", admin(http.HandlerFunc(s.confirmEraseContact))).Methods(http.MethodGet)
	ws.Handle("/contacts/{contact}/erase", admin(http.HandlerFunc(s.eraseContact))).Methods(http.MethodPost)
	ws.Handle("/contacts/{contact}/export.json", admin(http.HandlerFunc(s.contactSubjectAccess))).Methods(http.MethodGet)
	ws.Handle("/companies", read(http.HandlerFunc(s.companies))).Methods(http.MethodGet)
	ws.Handle("/companies", write(http.HandlerFunc(s.createCompany))).Methods(http.MethodPost)
	ws.Handle("/companies/new", write(http.HandlerFunc(s.newCompany))).Methods(http.MethodGet)
	ws.Handle("/companies/{company}", read(http.HandlerFunc(s.company))).Methods(http.MethodGet)
	ws.Handle("/companies/{company}", write(http.HandlerFunc(s.updateCompany))).Methods(http.MethodPost)
	ws.Handle("/companies/{company}/edit", write(http.HandlerFunc(s.editCompany))).Methods(http.MethodGet)
	ws.Handle("/companies/{company}/delete", write(http.HandlerFunc(s.confirmDeleteCompany))).Methods(http.MethodGet)
	ws.Handle("/companies/{company}/delete", write(http.HandlerFunc(s.deleteCompany))).Methods(http.MethodPost)
	ws.Handle("/companies/{company}/merge", write(http.HandlerFunc(s.mergeCompany))).Methods(http.MethodGet)
	ws.Handle("/companies/{company}/merge", write(http.HandlerFunc(s.mergeCompanyPost))).Methods(http.MethodPost)
	ws.Handle("/deals", read(http.HandlerFunc(s.deals))).Methods(http.MethodGet)
	ws.Handle("/deals", write(http.HandlerFunc(s.createDeal))).Methods(http.MethodPost)
	ws.Handle("/deals/new", write(http.HandlerFunc(s.newDeal))).Methods(http.MethodGet)
	ws.Handle("/deals/stages/{stage}", read(http.HandlerFunc(s.dealColumn))).Methods(http.MethodGet)
	ws.Handle("/deals/{deal}", read(http.HandlerFunc(s.deal))).Methods(http.MethodGet)
	ws.Handle("/deals/{deal}", write(http.HandlerFunc(s.updateDeal))).Methods(http.MethodPost)
	ws.Handle("/deals/{deal}/edit", write(http.HandlerFunc(s.editDeal))).Methods(http.MethodGet)
	ws.Handle("/deals/{deal}/move", write(http.HandlerFunc(s.moveDeal))).Methods(http.MethodPost)
	ws.Handle("/deals/{deal}/status", write(http.HandlerFunc(s.closeDeal))).Methods(http.MethodPost)
	ws.Handle("/deals/{deal}/delete", write(http.HandlerFunc(s.confirmDeleteDeal))).Methods(http.MethodGet)
	ws.Handle("/deals/{deal}/delete", write(http.HandlerFunc(s.deleteDeal))).Methods(http.MethodPost)
	ws.Handle("/settings/pipelines", read(http.HandlerFunc(s.pipelines))).Methods(http.MethodGet)
	ws.Handle("/settings/pipelines", admin(http.HandlerFunc(s.createPipeline))).Methods(http.MethodPost)
	ws.Handle("/settings/pipelines/{pipeline}", admin(http.HandlerFunc(s.renamePipeline))).Methods(http.MethodPost)
	ws.Handle("/settings/pipelines/{pipeline}/delete", admin(http.HandlerFunc(s.deletePipeline))).Methods(http.MethodPost)
	ws.Handle("/settings/pipelines/{pipeline}/stages", admin(http.HandlerFunc(s.addStage))).Methods(http.MethodPost)
	ws.Handle("/settings/stages/{stage}", admin(http.HandlerFunc(s.updateStage))).Methods(http.MethodPost)
	ws.Handle("/settings/stages/{stage}/move", admin(http.HandlerFunc(s.moveStage))).Methods(http.MethodPost)
	ws.Handle("/settings/stages/{stage}/delete", admin(http.HandlerFunc(s.deleteStage))).Methods(http.MethodPost)
	ws.Handle("/tasks", write(http.HandlerFunc(s.createTask))).Methods(http.MethodPost)
	ws.Handle("/tasks/{task}/toggle", write(http.HandlerFunc(s.toggleTask))).Methods(http.MethodPost)
	ws.Handle("/tasks/{task}/delete", write(http.HandlerFunc(s.deleteTask))).Methods(http.MethodPost)
	ws.Handle("/settings/api-keys", admin(http.HandlerFunc(s.apiKeys))).Methods(http.MethodGet)
	ws.Handle("/settings/api-keys", admin(http.HandlerFunc(s.createAPIKey))).Methods(http.MethodPost)
	ws.Handle("/settings/api-keys/{key}/revoke", admin(http.HandlerFunc(s.revokeAPIKey))).Methods(http.MethodPost)
	ws.Handle("/notes", write(http.HandlerFunc(s.createNote))).Methods(http.MethodPost)
	ws.Handle("/notes/{note}", write(http.HandlerFunc(s.updateNote))).Methods(http.MethodPost)
	ws.Handle("/notes/{note}/delete", write(http.HandlerFunc(s.deleteNote))).Methods(http.MethodPost)
	ws.Handle("/search", read(http.HandlerFunc(s.search))).Methods(http.MethodGet)
	ws.Handle("/templates", read(http.HandlerFunc(s.templateList))).Methods(http.MethodGet)
	ws.Handle("/templates", write(http.HandlerFunc(s.createTemplate))).Methods(http.MethodPost)
	ws.Handle("/templates/new", write(http.HandlerFunc(s.newTemplate))).Methods(http.MethodGet)
	ws.Handle("/templates/preview", write(http.HandlerFunc(s.previewDraft))).Methods(http.MethodPost)
	ws.Handle("/templates/{template}", read(http.HandlerFunc(s.templateShow))).Methods(http.MethodGet)
	ws.Handle("/templates/{template}", write(http.HandlerFunc(s.updateTemplate))).Methods(http.MethodPost)
	ws.Handle("/templates/{template}/edit", write(http.HandlerFunc(s.editTemplate))).Methods(http.MethodGet)
	ws.Handle("/templates/{template}/delete", write(http.HandlerFunc(s.confirmDeleteTemplate))).Methods(http.MethodGet)
	ws.Handle("/templates/{template}/delete", write(http.HandlerFunc(s.deleteTemplate))).Methods(http.MethodPost)
	ws.Handle("/audit", admin(http.HandlerFunc(s.audit))).Methods(http.MethodGet)
	return r
}

// healthz reports whether the process is alive: the catalog answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := s.catalog.R.PingContext(r.Context()); err != nil {
		s.log.Error("healthz: catalog unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "unavailable"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}

// readyz reports whether the instance is ready for traffic: the catalog
// answers a query and its replication runs. 503 says which is not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var one int
	reason := ""
	switch {
	case s.catalog.R.GetContext(r.Context(), &one, "SELECT 1") != nil:
		reason = "the catalog does not answer"
	case !s.tenants.ReplicationStats().Running:
		reason = "replication is not running"
	}
	if reason != "" {
		s.log.Warn("readyz: not ready", "reason", reason)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "reason": reason})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}
