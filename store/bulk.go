package store

import (
	"context"
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
