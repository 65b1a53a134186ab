package tenant

import (
	"context"
	"io"
	"strings"

	"atrium/store"
)

// Service is the workspace service: the writes and reads of one leased
// workspace that need the catalog as well as the workspace file (owners
// and assignees are members, members' names, the sign-in note). The web
// handlers and the API both call it, so each rule is written once and
// neither can skip it; writes no such rule concerns stay store calls on
// the lease. A Service lives as long as its lease.
type Service struct {
	lease *Lease
	m     *Manager // for the catalog
}

// Service returns the workspace service of a leased workspace.
func (m *Manager) Service(l *Lease) *Service { return &Service{lease: l, m: m} }

// DB is the workspace file, for writes that no rule across files concerns
// (pipelines, stages, custom fields).
func (s *Service) DB() *store.DB { return s.lease.DB }

// Members lists the workspace's members, owners first: for pickers and for
// showing names where records keep only a user id.
func (s *Service) Members(ctx context.Context) ([]store.Member, error) {
	return store.WorkspaceMembers(ctx, s.m.Catalog().R, s.lease.ID)
}

// checkMember fails with a validation error on field unless id is empty or
// a member of this workspace. The catalog is the authority on membership;
// the workspace file keeps only ids. The store trims ids, so does this.
// A viewer may not be made an owner or assignee (they cannot act on the
// record); keep is the record's current one, which may stay as it is.
func (s *Service) checkMember(ctx context.Context, field, who string, id *string, keep ...string) error {
	if id == nil || strings.TrimSpace(*id) == "" {
		return nil
	}
	uid := strings.TrimSpace(*id)
	role, err := store.MemberRole(ctx, s.m.Catalog().R, uid, s.lease.ID)
	if store.ErrorCode(err) == store.ENotFound {
		return store.FieldError(field, "%s must be a member of this workspace.", who)
	}
	if err == nil && role == "viewer" && !(len(keep) > 0 && keep[0] == uid) {
		return store.FieldError(field, "%s must be a member who can edit: viewers cannot own or be assigned records.", who)
	}
	return err
}

func (s *Service) checkOwner(ctx context.Context, id *string, keep ...string) error {
	return s.checkMember(ctx, "owner_id", "The owner", id, keep...)
}

// currentOwner is the owner a record has now, for checkOwner's keep ("" when
// the record cannot be read: the update then reports it).
func currentOwner[T any](ctx context.Context, db *store.DB, id string, get func(context.Context, *store.DB, string) (*T, error), owner func(*T) string) string {
	rec, err := get(ctx, db, id)
	if err != nil {
		return ""
	}
	return owner(rec)
}

// MergeContacts merges other into kept (store.MergeContacts). Taking the
// other contact's owner makes them the kept contact's owner: like any new
// owner, they must be a member who can own contacts.
func (s *Service) MergeContacts(ctx context.Context, a store.Actor, keptID, otherID string, takeOther map[string]bool) (*store.ContactMerge, error) {
	preview, err := store.PreviewContactMerge(ctx, s.lease.DB, keptID, otherID, takeOther)
	if err != nil {
		return nil, err
	}
	for _, f := range preview.Fields {
		if owner, ok := f.Other.(string); f.Key == "owner_id" && f.TakeOther && ok {
			kept, _ := f.Kept.(string)
			if err := s.checkOwner(ctx, &owner, kept); err != nil {
				return nil, err
			}
		}
	}
	return store.MergeContacts(ctx, s.lease.DB, a, keptID, otherID, takeOther)
}

// CreateContact adds a contact whose owner, if any, is a member.
func (s *Service) CreateContact(ctx context.Context, a store.Actor, in store.ContactInput) (*store.Contact, error) {
	if err := s.checkOwner(ctx, in.OwnerID); err != nil {
		return nil, err
	}
	if err := s.CheckQuota(ctx, QuotaContacts, 1); err != nil {
		return nil, err
	}
	return store.CreateContact(ctx, s.lease.DB, a, in)
}

// UpdateContact changes a contact; a new owner must be a member.
func (s *Service) UpdateContact(ctx context.Context, a store.Actor, id string, in store.ContactInput) (*store.Contact, error) {
	keep := currentOwner(ctx, s.lease.DB, id, store.GetContactW, func(c *store.Contact) string { return c.OwnerID })
	if err := s.checkOwner(ctx, in.OwnerID, keep); err != nil {
		return nil, err
	}
	return store.UpdateContact(ctx, s.lease.DB, a, id, in)
}

// BulkContacts applies one action to many contacts; a new owner is named
// by user id, email or name, and must be a member (an empty one clears
// the owner).
func (s *Service) BulkContacts(ctx context.Context, a store.Actor, ids []string, act store.BulkAction) (int, error) {
	act, err := s.BulkAction(ctx, act)
	if err != nil {
		return 0, err
	}
	return store.BulkContacts(ctx, s.lease.DB, a, ids, act)
}

// BulkAction checks a bulk action before it runs and names its owner by
// user id: an owner given by id, email or name must be a member who can
// own contacts (an empty one clears the owner).
func (s *Service) BulkAction(ctx context.Context, act store.BulkAction) (store.BulkAction, error) {
	if err := act.Check(); err != nil {
		return act, err
	}
	if act.Kind == "owner" && strings.TrimSpace(act.Value) != "" {
		owners, err := s.ownerLookup(ctx)
		if err != nil {
			return act, err
		}
		v := strings.TrimSpace(act.Value)
		id, ok := owners[v]
		if !ok {
			id, ok = owners[strings.ToLower(v)]
		}
		if !ok {
			return act, store.FieldError("value", "%q is not a member of this workspace who can own contacts (viewers cannot): choose the owner from the list.", v)
		}
		act.Value = id
	}
	return act, nil
}

// BulkContactsMatching applies one action to every contact a filter
// matches, batch by batch (store.BulkContactsMatching), with the rules of
// BulkContacts.
func (s *Service) BulkContactsMatching(ctx context.Context, a store.Actor, f store.ContactFilter, act store.BulkAction, progress func(done int)) (store.BulkResult, error) {
	act, err := s.BulkAction(ctx, act)
	if err != nil {
		return store.BulkResult{}, err
	}
	pacer := s.m.NewPacer() // between batches, the work gives way to requests (see Pacer)
	return store.BulkContactsMatching(ctx, s.lease.DB, a, f, act, func(done int) {
		if progress != nil {
			progress(done)
		}
		pacer.Pace()
	})
}

// ImportContacts imports contacts from CSV (store.ImportContactsCSV); an
// "owner" column names a member by email, name or user id, and a row
// naming anyone else is imported without an owner, the owner listed in
// the result. Unless opt.ImportSuppressed, a row adding an
// address on the workspace's or the instance's suppression list is
// skipped.
func (s *Service) ImportContacts(ctx context.Context, a store.Actor, r io.Reader, opt store.ImportOptions) (*store.ImportResult, error) {
	var err error
	if opt.Owners, err = s.ownerLookup(ctx); err != nil {
		return nil, err
	}
	if !opt.ImportSuppressed {
		if opt.InstanceSuppressed, err = store.InstanceSuppressionMap(ctx, s.m.catalog.R); err != nil {
			return nil, err
		}
	}
	if opt.CheckCreated, err = s.createdCheck(ctx); err != nil {
		return nil, err
	}
	opt.Go = goBackground   // reading runs below requests, as writing does in a job or RunHeavy
	pacer := s.m.NewPacer() // writing gives way to requests (see Pacer)
	opt.Pace = func() { pacer.Pace() }
	return store.ImportContactsCSV(ctx, s.lease.DB, a, r, opt)
}

// ownerLookup maps the ways an owner may be named (an import's owner
// cells, a bulk action's value) to members' user ids: by user id, email
// and name (lower-cased), the name only when one member has it, never a
// guess.
func (s *Service) ownerLookup(ctx context.Context) (map[string]string, error) {
	members, err := s.Members(ctx)
	if err != nil {
		return nil, err
	}
	owners := make(map[string]string, 3*len(members))
	names := map[string]int{}
	for _, m := range members {
		names[strings.ToLower(strings.TrimSpace(m.Name))]++
	}
	for _, m := range members {
		if m.Role == "viewer" { // viewers own nothing (see checkMember)
			continue
		}
		owners[m.UserID] = m.UserID
		owners[strings.ToLower(m.Email)] = m.UserID
		if n := strings.ToLower(strings.TrimSpace(m.Name)); n != "" && names[n] == 1 {
			owners[n] = m.UserID
		}
	}
	return owners, nil
}

// ImportCompanies imports companies from CSV (store.ImportCompaniesCSV),
// their owners matched to members as ImportContacts does.
func (s *Service) ImportCompanies(ctx context.Context, a store.Actor, r io.Reader, opt store.ImportOptions) (*store.ImportResult, error) {
	var err error
	if opt.Owners, err = s.ownerLookup(ctx); err != nil {
		return nil, err
	}
	return store.ImportCompaniesCSV(ctx, s.lease.DB, a, r, opt)
}

// ImportDeals imports deals from CSV (store.ImportDealsCSV), their owners
// matched to members as ImportContacts does.
func (s *Service) ImportDeals(ctx context.Context, a store.Actor, r io.Reader, opt store.DealImportOptions) (*store.ImportResult, error) {
	var err error
	if opt.Owners, err = s.ownerLookup(ctx); err != nil {
		return nil, err
	}
	return store.ImportDealsCSV(ctx, s.lease.DB, a, r, opt)
}

// CreateCompany adds a company whose owner, if any, is a member.
func (s *Service) CreateCompany(ctx context.Context, a store.Actor, in store.CompanyInput) (*store.Company, error) {
	if err := s.checkOwner(ctx, in.OwnerID); err != nil {
		return nil, err
	}
	return store.CreateCompany(ctx, s.lease.DB, a, in)
}

// UpdateCompany changes a company; a new owner must be a member.
func (s *Service) UpdateCompany(ctx context.Context, a store.Actor, id string, in store.CompanyInput) (*store.Company, error) {
	keep := currentOwner(ctx, s.lease.DB, id, store.GetCompanyW, func(c *store.Company) string { return c.OwnerID })
	if err := s.checkOwner(ctx, in.OwnerID, keep); err != nil {
		return nil, err
	}
	return store.UpdateCompany(ctx, s.lease.DB, a, id, in)
}

// CreateDeal adds a deal whose owner, if any, is a member.
func (s *Service) CreateDeal(ctx context.Context, a store.Actor, in store.DealInput) (*store.Deal, error) {
	if err := s.checkOwner(ctx, in.OwnerID); err != nil {
		return nil, err
	}
	return store.CreateDeal(ctx, s.lease.DB, a, in)
}

// UpdateDeal changes a deal; a new owner must be a member.
func (s *Service) UpdateDeal(ctx context.Context, a store.Actor, id string, in store.DealInput) (*store.Deal, error) {
	keep := currentOwner(ctx, s.lease.DB, id, store.GetDeal, func(d *store.Deal) string { return d.OwnerID })
	if err := s.checkOwner(ctx, in.OwnerID, keep); err != nil {
		return nil, err
	}
	return store.UpdateDeal(ctx, s.lease.DB, a, id, in)
}

// CreateTask adds a task whose assignee, if any, is a member.
func (s *Service) CreateTask(ctx context.Context, a store.Actor, in store.TaskInput) (*store.Task, error) {
	if err := s.checkMember(ctx, "assignee_id", "The assignee", in.AssigneeID); err != nil {
		return nil, err
	}
	return store.CreateTask(ctx, s.lease.DB, a, in)
}

// UpdateTask changes a task; a new assignee must be a member.
func (s *Service) UpdateTask(ctx context.Context, a store.Actor, id string, in store.TaskInput) (*store.Task, error) {
	keep := currentOwner(ctx, s.lease.DB, id, store.GetTask, func(t *store.Task) string { return t.AssigneeID })
	if err := s.checkMember(ctx, "assignee_id", "The assignee", in.AssigneeID, keep); err != nil {
		return nil, err
	}
	return store.UpdateTask(ctx, s.lease.DB, a, id, in)
}

// CreateNote adds a note. No rule crosses files yet (the author is the
// actor); notes go through here so that one, when it comes, has its place.
func (s *Service) CreateNote(ctx context.Context, a store.Actor, in store.NoteInput) (*store.Note, error) {
	return store.CreateNote(ctx, s.lease.DB, a, in)
}

// UpdateNote changes a note's body, if expected, only from that version.
func (s *Service) UpdateNote(ctx context.Context, a store.Actor, id, body string, expect store.Expect) (*store.Note, error) {
	return store.UpdateNote(ctx, s.lease.DB, a, id, body, expect)
}

// NoteSignIn records, once per session and workspace, that a user entered
// this workspace: the workspace's audit log gets a sign-in event, then the
// session (in the catalog) moves to this workspace. The audit comes first,
// so a failure leaves the session as it was and the next request tries
// again.
func (s *Service) NoteSignIn(ctx context.Context, a store.Actor, session *store.Session) error {
	id := s.lease.ID
	if session == nil || session.WorkspaceID == id {
		return nil
	}
	if err := store.Audit(ctx, s.lease.DB, a, "member.sign_in", "workspace", id); err != nil {
		return err
	}
	if err := store.SetSessionWorkspace(ctx, s.m.Catalog(), session.ID, id); err != nil {
		return err
	}
	session.WorkspaceID = id
	return nil
}

// EraseContact erases a contact of the workspace for good (GDPR): from its
// file, and, in the catalog's ledger of erasures (its id and a keyed hash
// of its email, never its data), so that no restore or import of the
// workspace's archive brings the person back.
func (s *Service) EraseContact(ctx context.Context, a store.Actor, contactID string) error {
	c, err := store.GetContactW(ctx, s.lease.DB, contactID)
	if err != nil {
		return err
	}
	if err := store.RecordErasure(ctx, s.m.catalog, s.lease.ID, c.ID, c.Email); err != nil {
		return err
	}
	return store.EraseContact(ctx, s.lease.DB, a, c.ID)
}

// RevokeAPIKey revokes a key of the leased workspace for good: in its file,
// and in the catalog, so that no restore brings it back.
func (s *Service) RevokeAPIKey(ctx context.Context, a store.Actor, keyID string) error {
	if err := store.RevokeAPIKey(ctx, s.lease.DB, a, keyID); err != nil {
		return err
	}
	return store.RecordKeyRevocation(ctx, s.m.catalog.W, s.lease.ID, keyID)
}
