package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ContactMerge says what merging one contact (Other) into another (Kept)
// does: the value each field ends with, what moves, and what happens to
// enrolments in a sequence both are in. Refusal, when not "", says why it
// cannot be done.
type ContactMerge struct {
	Kept, Other                       *Contact
	Fields                            []MergeField // fields whose values differ
	Notes, Tasks, Deals, Tags, Emails int          // what moves from Other
	Enrollments                       int          // Other's enrolments that move
	Shared                            []SharedEnrollment
	Refusal                           string
	merged                            *Contact // Kept with the picked values
}

// MergeField is one field of two contacts with different values, and
// whether the merged contact takes Other's.
type MergeField struct {
	Key, Label  string // "email", "custom.tier"
	Kept, Other any    // the values: text, or a custom field's value
	TakeOther   bool
}

// SharedEnrollment is a sequence both contacts are enrolled in: one
// enrolment stays (the one further along), the other's ledger rows join it.
type SharedEnrollment struct {
	SequenceName string
	KeepOthers   bool // Other's enrolment stays (it is further along)
	Stays, Goes  Enrollment
}

// contactMergeFields are the contact's own fields a merge picks between.
var contactMergeFields = []string{"first_name", "last_name", "email", "phone", "title", "company", "owner_id", "stage"}

// liveEnrollment says whether an enrolment may still send.
func liveEnrollment(state string) bool {
	return state == EnrollmentActive || state == EnrollmentPaused
}

// stoppedForGood is whichever of two enrolments was stopped for a reason
// about the person (anything but a failed send, which can resume), or nil.
func stoppedForGood(a, b *Enrollment) *Enrollment {
	for _, e := range []*Enrollment{a, b} {
		if e.State == EnrollmentStopped && e.StopReason != "failed" {
			return e
		}
	}
	return nil
}

// PreviewContactMerge reads what merging other into kept would do without
// doing it. takeOther names the fields (as MergeField.Key) whose value is
// to be Other's; nil picks for each field Kept's value unless it is empty.
func PreviewContactMerge(ctx context.Context, db *DB, keptID, otherID string, takeOther map[string]bool) (*ContactMerge, error) {
	return previewContactMerge(ctx, db.R, keptID, otherID, takeOther)
}

func previewContactMerge(ctx context.Context, q sqlx.QueryerContext, keptID, otherID string, takeOther map[string]bool) (*ContactMerge, error) {
	if keptID == otherID {
		return nil, Errorf(EInvalid, "A contact cannot be merged with itself; pick another one.")
	}
	m := &ContactMerge{}
	var err error
	if m.Kept, err = getContact(ctx, q, keptID); err != nil {
		return nil, err
	}
	if m.Other, err = getContact(ctx, q, otherID); err != nil {
		return nil, err
	}
	defs, err := customFields(ctx, q, KindContact)
	if err != nil {
		return nil, err
	}
	m.pickFields(defs, takeOther)
	for _, c := range []struct {
		n     *int
		query string
	}{
		{&m.Notes, `SELECT count(*) FROM notes WHERE contact_id = ?`},
		{&m.Tasks, `SELECT count(*) FROM tasks WHERE contact_id = ?`},
		{&m.Deals, `SELECT count(*) FROM deals WHERE contact_id = ?`},
		{&m.Emails, `SELECT count(*) FROM messages WHERE contact_id = ?`},
	} {
		if err := sqlx.GetContext(ctx, q, c.n, c.query, otherID); err != nil {
			return nil, err
		}
	}
	for _, t := range m.Other.Tags {
		if !slices.ContainsFunc(m.Kept.Tags, func(k string) bool { return strings.EqualFold(k, t) }) {
			m.Tags++
		}
	}
	return m, m.planEnrollments(ctx, q)
}

// pickFields lists the fields whose values differ and builds the merged
// contact from the picks.
func (m *ContactMerge) pickFields(defs []CustomField, takeOther map[string]bool) {
	k, o := m.Kept, m.Other
	merged := *k
	merged.Tags = append([]string{}, k.Tags...)
	for _, t := range o.Tags {
		if !slices.ContainsFunc(merged.Tags, func(x string) bool { return strings.EqualFold(x, t) }) {
			merged.Tags = append(merged.Tags, t)
		}
	}
	merged.Custom = Custom{}
	for key, v := range k.Custom {
		merged.Custom[key] = v
	}
	fieldOf := func(c *Contact, key string) *string {
		return map[string]*string{"first_name": &c.FirstName, "last_name": &c.LastName, "email": &c.Email, "phone": &c.Phone,
			"title": &c.Title, "company": &c.Company, "owner_id": &c.OwnerID, "stage": &c.Stage}[key]
	}
	take := func(key string, keptEmpty, otherEmpty bool) bool {
		if takeOther == nil {
			return keptEmpty && !otherEmpty
		}
		return takeOther[key]
	}
	for _, key := range contactMergeFields {
		kv, ov := *fieldOf(k, key), *fieldOf(o, key)
		if key == "company" && k.CompanyID == o.CompanyID || kv == ov {
			continue
		}
		f := MergeField{Key: key, Label: fieldLabels[key], Kept: kv, Other: ov, TakeOther: take(key, kv == "", ov == "")}
		if f.TakeOther {
			*fieldOf(&merged, key) = ov
			if key == "company" {
				merged.CompanyID = o.CompanyID
			}
		}
		m.Fields = append(m.Fields, f)
	}
	for _, d := range defs {
		kv, ov := k.Custom[d.Key], o.Custom[d.Key]
		if CustomText(kv) == CustomText(ov) {
			continue
		}
		key := "custom." + d.Key
		f := MergeField{Key: key, Label: d.Label, Kept: kv, Other: ov, TakeOther: take(key, kv == nil, ov == nil)}
		if f.TakeOther {
			if ov == nil {
				delete(merged.Custom, d.Key)
			} else {
				merged.Custom[d.Key] = ov
			}
		}
		m.Fields = append(m.Fields, f)
	}
	m.merged = &merged
}

// planEnrollments decides, for each sequence both contacts are in, which
// enrolment stays; it refuses when both may still send (a step could go
// out twice) or when a step's delivery is not settled.
func (m *ContactMerge) planEnrollments(ctx context.Context, q sqlx.QueryerContext) error {
	var all []struct {
		Enrollment
		SequenceName string `db:"sequence_name"`
		Unsettled    int    `db:"unsettled"`
	}
	err := sqlx.SelectContext(ctx, q, &all, `SELECT e.*, '' AS contact_name, '' AS contact_email, 0 AS steps_done, s.name AS sequence_name,
		(SELECT count(*) FROM messages m WHERE m.enrollment_id = e.id AND m.state IN ('scheduled', 'sending', 'unknown')) AS unsettled
		FROM enrollments e JOIN sequences s ON s.id = e.sequence_id WHERE e.contact_id IN (?, ?) ORDER BY s.name, e.seq`,
		m.Kept.ID, m.Other.ID)
	if err != nil {
		return err
	}
	kept, other := map[string]Enrollment{}, map[string]Enrollment{} // by sequence
	unsettled := map[string]int{}
	for _, e := range all {
		if e.ContactID == m.Kept.ID {
			kept[e.SequenceID] = e.Enrollment
		} else {
			other[e.SequenceID] = e.Enrollment
			m.Enrollments++
		}
		unsettled[e.SequenceID] += e.Unsettled
	}
	for _, e := range all {
		k, inKept := kept[e.SequenceID]
		o, inOther := other[e.SequenceID]
		if !inKept || !inOther || e.ContactID != m.Kept.ID {
			continue
		}
		name := e.SequenceName
		m.Enrollments--
		if liveEnrollment(k.State) && liveEnrollment(o.State) {
			m.Refusal = fmt.Sprintf("%s and %s are both enrolled in the sequence “%s” and neither enrolment has ended. Stop one of them on the sequence's page, then merge: otherwise a step could be sent twice.",
				m.Kept.Name(), m.Other.Name(), name)
			return nil
		}
		if ended := stoppedForGood(&k, &o); ended != nil && (liveEnrollment(k.State) || liveEnrollment(o.State)) {
			// A reply, an unsubscribe or a stop by hand on either one is
			// about the person: the other enrolment must not go on mailing.
			m.Refusal = fmt.Sprintf("One enrolment in the sequence “%s” was stopped (%s) while the other is still running. Stop the running one on the sequence's page, then merge: otherwise the merged contact would keep getting its emails.",
				name, cmp.Or(ended.StopReason, "by hand"))
			return nil
		}
		if unsettled[e.SequenceID] > 0 {
			m.Refusal = fmt.Sprintf("An email of the sequence “%s” to %s or %s is waiting or its delivery is not known. Settle it on the sequence's page, then merge.",
				name, m.Kept.Name(), m.Other.Name())
			return nil
		}
		// The one further along stays; at the same step, the one that may
		// still send, else the kept contact's.
		keepOthers := o.DonePosition > k.DonePosition || (o.DonePosition == k.DonePosition && liveEnrollment(o.State) && !liveEnrollment(k.State))
		s := SharedEnrollment{SequenceName: name, KeepOthers: keepOthers, Stays: k, Goes: o}
		if keepOthers {
			s.Stays, s.Goes = o, k
		}
		m.Shared = append(m.Shared, s)
	}
	return nil
}

// MergeContacts merges other into kept in one transaction: kept takes the
// picked values (see PreviewContactMerge) and other's tags; other's notes,
// tasks, deals, enrolments, emails (with their opens, clicks and replies),
// timeline and audit trail move to kept; other is deleted; one audit event
// tells the merge. A merge the preview refuses is refused.
func MergeContacts(ctx context.Context, db *DB, a Actor, keptID, otherID string, takeOther map[string]bool) (*ContactMerge, error) {
	var m *ContactMerge
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if m, err = previewContactMerge(ctx, tx, keptID, otherID, takeOther); err != nil {
			return err
		}
		if m.Refusal != "" {
			return Errorf(EConflict, "%s", m.Refusal)
		}
		if c := m.merged; c.FirstName == "" && c.LastName == "" && c.Email == "" {
			return Errorf(EInvalid, "The merged contact would have no name and no email: keep one of them.")
		}
		return mergeContacts(ctx, tx, a, m)
	})
	return m, err
}

func mergeContacts(ctx context.Context, tx *sqlx.Tx, a Actor, m *ContactMerge) error {
	keep, other := m.Kept.ID, m.Other.ID
	now := time.Now().UTC()
	for _, s := range m.Shared {
		if err := joinEnrollments(ctx, tx, s.Stays.ID, s.Goes.ID); err != nil {
			return err
		}
	}
	for _, stmt := range []string{
		`UPDATE notes SET contact_id = ?1, version = version + 1, updated_at = ?3 WHERE contact_id = ?2`,
		`UPDATE tasks SET contact_id = ?1, version = version + 1, updated_at = ?3 WHERE contact_id = ?2`,
		`UPDATE deals SET contact_id = ?1, version = version + 1, updated_at = ?3 WHERE contact_id = ?2`,
		`UPDATE enrollments SET contact_id = ?1, updated_at = ?3 WHERE contact_id = ?2`,
		`UPDATE messages SET contact_id = ?1 WHERE contact_id = ?2`,
		`UPDATE replies SET contact_id = ?1 WHERE contact_id = ?2`,
		`UPDATE activities SET contact_id = ?1 WHERE contact_id = ?2`,
		`UPDATE audit_log SET contact_id = ?1 WHERE contact_id = ?2`,
		`INSERT OR IGNORE INTO contact_tags (contact_id, tag_seq) SELECT ?1, tag_seq FROM contact_tags WHERE contact_id = ?2`,
		// Freed before kept may take its email (emails are unique).
		`DELETE FROM contacts WHERE id = ?2`,
	} {
		if _, err := tx.ExecContext(ctx, stmt, keep, other, now); err != nil {
			return err
		}
	}
	after := m.merged
	after.UpdatedAt = now
	if _, err := tx.NamedExecContext(ctx, `UPDATE contacts SET first_name = :first_name, last_name = :last_name, email = :email,
		phone = :phone, title = :title, company_id = nullif(:company_id, ''), owner_id = :owner_id, stage = :stage,
		custom = :custom, updated_at = :updated_at, version = version + 1 WHERE id = :id`, after); err != nil {
		return contactWriteError(ctx, tx, err, after.Email)
	}
	changes := contactChanges(m.Kept, after)
	changes["merged_from"] = Change{Before: m.Other.Name() + mergeEmail(m.Other), After: m.Kept.Name()}
	if err := logActivity(ctx, tx, KindContact, keep, "merged", a, changes); err != nil {
		return err
	}
	return audit(ctx, tx, a, "contact.merge", KindContact, keep, changes)
}

func mergeEmail(c *Contact) string {
	if c.Email == "" || c.Name() == c.Email {
		return ""
	}
	return " <" + c.Email + ">"
}

// joinEnrollments moves the ledger rows of the enrolment that goes to the
// one that stays. A step both have a row for keeps the row that says the
// email went out (sent, bounced) over one that did not (failed, skipped);
// the other row's opens, clicks and replies move to it. The sender finds a
// row for each step either contact was sent, so it sends none of them again.
func joinEnrollments(ctx context.Context, tx *sqlx.Tx, stays, goes string) error {
	var rows []Message
	if err := tx.SelectContext(ctx, &rows, `SELECT * FROM messages WHERE enrollment_id IN (?, ?) ORDER BY seq`, stays, goes); err != nil {
		return err
	}
	byStep := map[string][]Message{}
	for _, r := range rows {
		byStep[r.StepID] = append(byStep[r.StepID], r)
	}
	wentOut := func(m Message) int {
		if m.State == MessageSent || m.State == MessageBounced {
			return 1
		}
		return 0
	}
	for _, pair := range byStep {
		winner := pair[0]
		if len(pair) == 2 {
			loser := pair[1]
			if wentOut(loser) > wentOut(winner) || (wentOut(loser) == wentOut(winner) && loser.EnrollmentID == stays) {
				winner, loser = loser, winner
			}
			for _, stmt := range []string{
				`UPDATE tracking_events SET message_id = ?1 WHERE message_id = ?2`,
				`UPDATE replies SET message_id = ?1 WHERE message_id = ?2`,
				`DELETE FROM messages WHERE id = ?2`,
			} {
				if _, err := tx.ExecContext(ctx, stmt, winner.ID, loser.ID); err != nil {
					return err
				}
			}
		}
		if winner.EnrollmentID != stays {
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET enrollment_id = ? WHERE id = ?`, stays, winner.ID); err != nil {
				return err
			}
		}
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM enrollments WHERE id = ?`, goes)
	return err
}
