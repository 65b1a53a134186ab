package store

import (
	"context"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// MaxBulk is the most records one bulk action changes.
const MaxBulk = 500

// BulkAction is one change applied to many contacts at once.
type BulkAction struct {
	Kind  string // "tag", "untag", "owner", "stage" or "delete"
	Value string // the tag, owner id or stage
}

// BulkContacts applies an action to the given contacts in one transaction,
// each change audited, and returns how many contacts changed. Ids that do
// not exist in this workspace are refused, so nothing half-happens.
func BulkContacts(ctx context.Context, db *DB, a Actor, ids []string, act BulkAction) (int, error) {
	if len(ids) == 0 {
		return 0, Errorf(EValidation, "Select at least one contact.")
	}
	if len(ids) > MaxBulk {
		return 0, Errorf(EValidation, "Select at most %d contacts at once.", MaxBulk)
	}
	if err := act.Check(); err != nil {
		return 0, err
	}
	changed := 0
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, id := range ids {
			n, err := bulkOne(ctx, tx, a, id, act)
			if err != nil {
				return err
			}
			changed += n
		}
		return nil
	})
	return changed, err
}

func bulkOne(ctx context.Context, tx *sqlx.Tx, a Actor, id string, act BulkAction) (int, error) {
	if act.Kind == "delete" {
		return 1, deleteContact(ctx, tx, a, id)
	}
	changed, err := editContact(ctx, tx, a, id, func(before *Contact) (ContactInput, error) {
		return bulkInput(before, act)
	})
	if changed {
		return 1, err
	}
	return 0, err
}

// bulkInput is the change one bulk action makes to one contact.
func bulkInput(before *Contact, act BulkAction) (ContactInput, error) {
	in := ContactInput{}
	switch act.Kind {
	case "tag":
		tags := append(append([]string{}, before.Tags...), act.Value)
		in.Tags = &tags
	case "untag":
		tags := []string{}
		for _, t := range before.Tags {
			if !strings.EqualFold(t, act.Value) {
				tags = append(tags, t)
			}
		}
		in.Tags = &tags
	case "owner":
		in.OwnerID = &act.Value
	case "stage":
		stage := strings.ToLower(strings.TrimSpace(act.Value))
		in.Stage = &stage
	default:
		return in, Errorf(EValidation, "Unknown bulk action %q.", act.Kind)
	}
	return in, nil
}

// Check refuses an action that would fail on every contact, before any is
// read: an unknown kind, a tag that is empty, a stage that is not one.
func (act BulkAction) Check() error {
	switch act.Kind {
	case "tag", "untag":
		if strings.TrimSpace(act.Value) == "" {
			return FieldError("tag", "Name the tag to %s.", map[string]string{"tag": "add", "untag": "remove"}[act.Kind])
		}
	case "stage":
		if !slices.Contains(Stages, strings.ToLower(strings.TrimSpace(act.Value))) {
			return FieldError("stage", "Choose a stage: %s.", strings.Join(Stages, ", "))
		}
	case "owner", "delete":
	default:
		return Errorf(EValidation, "Unknown bulk action %q.", act.Kind)
	}
	return nil
}

// BulkBatch is how many contacts one transaction of a bulk action on a
// filter changes: other writers get in between batches.
const BulkBatch = MaxBulk

// BulkResult is what a bulk action on a filter did.
type BulkResult struct {
	Matched int `json:"matched"` // contacts the filter matched, as they were reached
	Changed int `json:"changed"`
}

// BulkContactsMatching applies an action to every contact the filter
// matches (its sort, cursor and limit ignored), BulkBatch contacts per
// transaction, each change audited. progress hears how many were done
// after each batch. The contacts are walked oldest first by a cursor,
// so a change that takes a contact out of the filter (a stage set, a tag
// removed, a delete) neither skips nor repeats one; contacts added while
// it runs may be reached too. A failing batch stops it: the batches
// before stay done, and the result says how far it got.
func BulkContactsMatching(ctx context.Context, db *DB, a Actor, f ContactFilter, act BulkAction, progress func(done int)) (BulkResult, error) {
	var res BulkResult
	if err := act.Check(); err != nil {
		return res, err
	}
	f.Sort, f.Asc, f.Cursor, f.Before, f.Limit = "created", true, "", false, MaxLimit
	for {
		ids, next, err := matchingIDs(ctx, db, f, BulkBatch)
		if err != nil || len(ids) == 0 {
			return res, err
		}
		n, err := BulkContacts(ctx, db, a, ids, act)
		if err != nil {
			return res, err
		}
		res.Matched += len(ids)
		res.Changed += n
		if progress != nil {
			progress(res.Matched)
		}
		if f.Cursor = next; next == "" {
			return res, nil
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
}

// matchingIDs reads the ids of up to n contacts the filter matches from
// its cursor on, and the cursor after them ("" at the end).
func matchingIDs(ctx context.Context, db *DB, f ContactFilter, n int) ([]string, string, error) {
	var ids []string
	for len(ids) < n {
		f.Limit = min(MaxLimit, n-len(ids))
		page, cur, err := ListContactsPage(ctx, db, f)
		if err != nil {
			return nil, "", err
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		if f.Cursor = cur.Next; cur.Next == "" {
			break
		}
	}
	return ids, f.Cursor, nil
}
