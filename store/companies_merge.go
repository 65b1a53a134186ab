package store

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
)

// CompanyMerge says what merging one company into another moves and fills.
type CompanyMerge struct {
	Source, Target                    *Company
	People, Deals, Notes, Tasks, Tags int
	Filled                            []string // the target's empty fields the source fills
}

// PreviewCompanyMerge reads what merging source into target would do,
// without doing it (the confirmation page).
func PreviewCompanyMerge(ctx context.Context, db *DB, sourceID, targetID string) (*CompanyMerge, error) {
	return previewMerge(ctx, db.R, sourceID, targetID)
}

func previewMerge(ctx context.Context, q sqlx.QueryerContext, sourceID, targetID string) (*CompanyMerge, error) {
	if sourceID == targetID {
		return nil, Errorf(EInvalid, "A company cannot be merged into itself; pick another one.")
	}
	m := &CompanyMerge{}
	var err error
	if m.Source, err = getCompany(ctx, q, sourceID); err != nil {
		return nil, err
	}
	if m.Target, err = getCompany(ctx, q, targetID); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		n     *int
		query string
	}{
		{&m.People, `SELECT count(*) FROM contacts WHERE company_id = ?`},
		{&m.Deals, `SELECT count(*) FROM deals WHERE company_id = ?`},
		{&m.Notes, `SELECT count(*) FROM notes WHERE company_id = ?`},
		{&m.Tasks, `SELECT count(*) FROM tasks WHERE company_id = ?`},
		{&m.Tags, `SELECT count(*) FROM company_tags WHERE company_id = ?`},
	} {
		if err := sqlx.GetContext(ctx, q, c.n, c.query, sourceID); err != nil {
			return nil, err
		}
	}
	filled := mergedCompany(m.Source, m.Target)
	for k := range companyChanges(m.Target, filled) {
		m.Filled = append(m.Filled, k)
	}
	slices.Sort(m.Filled)
	return m, nil
}

// mergedCompany is target with its empty fields filled from source; tags
// are left to the caller.
func mergedCompany(source, target *Company) *Company {
	out := *target
	out.Tags = target.Tags
	for _, f := range []struct{ from, to *string }{
		{&source.Domain, &out.Domain}, {&source.Industry, &out.Industry},
		{&source.Size, &out.Size}, {&source.OwnerID, &out.OwnerID},
	} {
		if *f.to == "" {
			*f.to = *f.from
		}
	}
	out.Custom = Custom{}
	for k, v := range source.Custom {
		out.Custom[k] = v
	}
	for k, v := range target.Custom {
		out.Custom[k] = v
	}
	return &out
}

// MergeCompanies moves source's people, deals, notes and tasks to target,
// adds its tags to target's, fills target's empty fields from source's,
// deletes source and writes an audit event on each, in one transaction.
func MergeCompanies(ctx context.Context, db *DB, a Actor, sourceID, targetID string) (*CompanyMerge, error) {
	var m *CompanyMerge
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if m, err = previewMerge(ctx, tx, sourceID, targetID); err != nil {
			return err
		}
		return mergeCompanies(ctx, tx, a, m)
	})
	return m, err
}

func mergeCompanies(ctx context.Context, tx *sqlx.Tx, a Actor, m *CompanyMerge) error {
	src, dst := m.Source, m.Target
	now := time.Now().UTC()
	detail, err := json.Marshal(map[string]Change{"company": {Before: src.Name, After: dst.Name}})
	if err != nil {
		return err
	}
	// Each person's timeline says their company changed.
	if _, err := tx.ExecContext(ctx, `INSERT INTO activities (contact_id, kind, actor, detail, created_at)
		SELECT id, 'changed', ?, ?, ? FROM contacts WHERE company_id = ?`, a.String(), string(detail), now, src.ID); err != nil {
		return err
	}
	// A moved row is a write of its own: its version and updated_at move
	// (lists sorted by last change, and API clients syncing by it, see it).
	for _, table := range []string{"contacts", "deals", "notes", "tasks"} {
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET company_id = ?, version = version + 1, updated_at = ? WHERE company_id = ?`, dst.ID, now, src.ID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO company_tags (company_id, tag_seq)
		SELECT ?, tag_seq FROM company_tags WHERE company_id = ?`, dst.ID, src.ID); err != nil {
		return err
	}
	after := mergedCompany(src, dst)
	after.UpdatedAt = now
	if _, err := tx.NamedExecContext(ctx, `UPDATE companies SET domain = :domain, industry = :industry, size = :size,
		owner_id = :owner_id, custom = :custom, updated_at = :updated_at, version = version + 1 WHERE id = :id`, after); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM companies WHERE id = ?`, src.ID); err != nil {
		return err
	}
	changes := companyChanges(dst, after)
	// The timeline tells the merge as a change of company, the one
	// change it can put in words ("Company changed from Acme Inc to ACME").
	told := maps.Clone(changes)
	told["company"] = Change{Before: src.Name, After: dst.Name}
	if err := logActivity(ctx, tx, KindCompany, dst.ID, "changed", a, told); err != nil {
		return err
	}
	changes["merged_from"] = Change{Before: src.Name, After: dst.Name}
	if err := audit(ctx, tx, a, "company.merge", KindCompany, dst.ID, changes); err != nil {
		return err
	}
	gone := companyChanges(src, &Company{})
	gone["merged_into"] = Change{Before: src.Name, After: dst.Name}
	return audit(ctx, tx, a, "company.merge", KindCompany, src.ID, gone)
}
