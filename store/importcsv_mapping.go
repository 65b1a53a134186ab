package store

import (
	"strings"
	"unicode"
)

// Which contact field each CSV column goes to: the fields, and the
// suggestion made from a header.

// ImportFields are the contact fields a CSV column can map to, besides
// "custom.<key>" for custom fields; "" means the column is ignored.
// "owner" takes a member's email or user id.
var ImportFields = []string{"first_name", "last_name", "name", "email", "phone", "title", "company", "stage", "tags", "owner"}

// Indexes into ImportFields, and into a row's values.
const (
	fieldFirstName = iota
	fieldLastName
	fieldName
	fieldEmail
	fieldPhone
	fieldTitle
	fieldCompany
	fieldStage
	fieldTags
	fieldOwner
	fieldCount
)

// Where a column goes when it is no contact field.
const (
	columnIgnored = -1
	columnCustom  = -2
)

// importAliases maps normalised header words to fields, for suggestions.
var importAliases = map[string]string{
	"firstname": "first_name", "first": "first_name", "givenname": "first_name", "forename": "first_name", "vorname": "first_name", "prenom": "first_name",
	"lastname": "last_name", "last": "last_name", "surname": "last_name", "familyname": "last_name", "nachname": "last_name", "nom": "last_name",
	"name": "name", "fullname": "name", "contact": "name", "contactname": "name",
	"email": "email", "emailaddress": "email", "mail": "email", "e-mail": "email", "emailadresse": "email",
	"phone": "phone", "phonenumber": "phone", "telephone": "phone", "tel": "phone", "mobile": "phone", "telefon": "phone",
	"title": "title", "jobtitle": "title", "position": "title", "role": "title",
	"company": "company", "companyname": "company", "organization": "company", "organisation": "company", "account": "company", "firma": "company",
	"stage": "stage", "lifecyclestage": "stage", "status": "stage",
	"tags": "tags", "tag": "tags", "labels": "tags",
	"owner": "owner", "owneremail": "owner", "ownerid": "owner", "contactowner": "owner", "assignedto": "owner",
}

func normaliseHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SuggestMapping proposes a field for each header: known names and their
// usual variants, and custom fields by key or label, or as a list export
// names them ("custom.<key>"). Each field is suggested once, for its first
// column.
func SuggestMapping(header []string, custom []CustomField) []string {
	out := make([]string, len(header))
	used := map[string]bool{}
	for i, h := range header {
		n := normaliseHeader(h)
		key, exported := strings.CutPrefix(strings.TrimSpace(h), "custom.")
		field := importAliases[n]
		for _, f := range custom {
			if n == normaliseHeader(f.Key) || n == normaliseHeader(f.Label) || exported && key == f.Key {
				field = "custom." + f.Key
			}
		}
		if field != "" && !used[field] {
			out[i], used[field] = field, true
		}
	}
	return out
}

// importColumn is where a CSV column goes: a contact field (an index into
// ImportFields), a custom field, or columnIgnored.
type importColumn struct {
	field  int
	custom string // the custom field's key, when field is columnCustom
}
