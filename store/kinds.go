package store

import (
	"slices"
	"strings"
)

// Kind is the kind of a workspace record, as the audit log's entity_type
// and custom_fields.entity hold it. A kind from outside (a form, a query,
// an archive) becomes a Kind through ParseKind only.
type Kind string

// The kinds of record.
const (
	KindContact     Kind = "contact"
	KindCompany     Kind = "company"
	KindDeal        Kind = "deal"
	KindNote        Kind = "note"
	KindTask        Kind = "task"
	KindPipeline    Kind = "pipeline"
	KindStage       Kind = "stage"
	KindCustomField Kind = "custom_field"
	KindAPIKey      Kind = "apikey"
	KindWorkspace   Kind = "workspace"
	KindMailbox     Kind = "mailbox"
	KindTemplate    Kind = "template"
	KindSequence    Kind = "sequence"
	KindEnrollment  Kind = "enrollment"
	KindMessage     Kind = "message"
	KindSuppression Kind = "suppression"
	KindReply       Kind = "reply"
)

// Kinds are every kind, in the order they are listed to people.
var Kinds = []Kind{KindContact, KindCompany, KindDeal, KindNote, KindTask,
	KindPipeline, KindStage, KindCustomField, KindAPIKey, KindWorkspace, KindMailbox, KindTemplate, KindSequence, KindEnrollment, KindMessage, KindSuppression, KindReply}

// ParseKind returns the kind s names; a name that is none is an invalid
// request, never taken for a contact.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", Errorf(EInvalid, "%q is not a kind of record; the kinds are %s.", truncateText(s, 40), strings.Join(kindNames(Kinds), ", "))
}

// recordKinds are the kinds of record that have a timeline, tags and
// custom fields.
var recordKinds = []Kind{KindContact, KindCompany}

// customFieldKinds are the kinds of record that have custom fields: the
// records, and deals.
var customFieldKinds = []Kind{KindContact, KindCompany, KindDeal}

// hasCustomFields reports whether k is one of customFieldKinds.
func (k Kind) hasCustomFields() bool { return slices.Contains(customFieldKinds, k) }

// isRecord reports whether k is one of recordKinds.
func (k Kind) isRecord() bool { return slices.Contains(recordKinds, k) }

// errNotRecord refuses a kind that has no timeline, tags or custom fields.
func errNotRecord(k Kind) error {
	return Errorf(EInvalid, "Only contacts and companies have a timeline, tags and custom fields, not a %s.", k)
}

// recordColumn is the column by which activities, notes, tasks, deals and
// tag links point at a record of kind k ("contact_id", "company_id").
func (k Kind) recordColumn() (string, error) {
	if !k.isRecord() {
		return "", errNotRecord(k)
	}
	return string(k) + "_id", nil
}

// kindNames are the kinds' names, for messages and SQL lists.
func kindNames(ks []Kind) []string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return names
}
