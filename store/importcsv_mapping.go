package store

import (
	"slices"
	"strings"
	"unicode"
)

// Which contact field each CSV column goes to: the fields, and the
// suggestion made from a header.

// ImportFields are the contact fields a CSV column can map to, besides
// "custom.<key>" for custom fields; "" means the column is ignored.
// "owner" takes a member's email, name or user id; "name" is a full name,
// split into first and last; "created_at" the date the contact was created
// in the CRM it comes from. Several columns may map to "email" or "phone":
// the first address is the contact's, the others are kept in the custom
// fields other_emails and other_phones.
var ImportFields = []string{"first_name", "last_name", "name", "email", "phone", "title", "company", "stage", "tags", "owner", "created_at"}

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
	fieldCreatedAt
	fieldCount
)

// Where a column goes when it is no contact field.
const (
	columnIgnored = -1
	columnCustom  = -2
)

// MappingNewField in a mapping makes a custom field of the column, named
// after its header, of the type its values suggest (GuessFieldType).
const MappingNewField = "new"

// multiFields may be the field of several columns.
var multiFields = []string{"email", "phone"}

// importAliases maps normalised header words to fields, for suggestions:
// common spellings, and the column names of HubSpot, Salesforce,
// Pipedrive (without its "Person - " prefix), Zoho CRM and Close exports.
var importAliases = map[string]string{
	"firstname": "first_name", "first": "first_name", "givenname": "first_name", "forename": "first_name", "vorname": "first_name", "prenom": "first_name",
	"contactfirstname": "first_name",
	"lastname":         "last_name", "last": "last_name", "surname": "last_name", "familyname": "last_name", "nachname": "last_name", "nom": "last_name",
	"contactlastname": "last_name",
	"name":            "name", "fullname": "name", "contact": "name", "contactname": "name", "displayname": "name", "personname": "name",
	"contactfullname": "name",
	"email":           "email", "emailaddress": "email", "mail": "email", "e-mail": "email", "emailadresse": "email",
	"emailwork": "email", "emailhome": "email", "emailother": "email", "emailpersonal": "email", "workemail": "email", "homeemail": "email",
	"secondaryemail": "email", "additionalemailaddresses": "email", "otheremail": "email", "emails": "email",
	"primaryemail": "email", "contactprimaryemail": "email", "contactemails": "email", "contactemail": "email",
	"phone": "phone", "phonenumber": "phone", "telephone": "phone", "tel": "phone", "mobile": "phone", "telefon": "phone",
	"phonework": "phone", "phonemobile": "phone", "phonehome": "phone", "phoneother": "phone", "mobilephone": "phone",
	"mobilephonenumber": "phone", "homephone": "phone", "otherphone": "phone", "workphone": "phone", "businessphone": "phone",
	"phones": "phone", "primaryphone": "phone", "contactprimaryphone": "phone", "contactphones": "phone", "contactphone": "phone",
	"title": "title", "jobtitle": "title", "position": "title", "role": "title", "contacttitle": "title",
	"company": "company", "companyname": "company", "organization": "company", "organisation": "company", "account": "company", "firma": "company",
	"accountname": "company", "associatedcompany": "company", "organizationname": "company", "leadname": "company",
	"stage": "stage", "lifecyclestage": "stage", "status": "stage",
	"tags": "tags", "tag": "tags", "labels": "tags", "label": "tags",
	"owner": "owner", "owneremail": "owner", "ownerid": "owner", "contactowner": "owner", "assignedto": "owner",
	"leadowner": "owner", "personowner": "owner", "recordowner": "owner", "contactownername": "owner",
	"createdat": "created_at", "createdate": "created_at", "created": "created_at", "createddate": "created_at",
	"createdtime": "created_at", "datecreated": "created_at", "personcreated": "created_at", "creationdate": "created_at",
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
// usual variants (those of the CRMs DetectSource knows among them), and
// custom fields by key or label, or as a list export names them
// ("custom.<key>"). Each field is suggested once, for its first column,
// except email and phone: their other columns are the other addresses.
func SuggestMapping(header []string, custom []CustomField) []string {
	return suggest(header, importAliases, custom, multiFields)
}

// suggest maps each header to the field its aliases or a custom field
// name, each field once except those in multi.
func suggest(header []string, aliases map[string]string, custom []CustomField, multi []string) []string {
	out := make([]string, len(header))
	used := map[string]bool{}
	for i, h := range header {
		n := normaliseHeader(h)
		key, exported := strings.CutPrefix(strings.TrimSpace(h), "custom.")
		field := aliases[n]
		if field == "" {
			field = aliases[normaliseHeader(cutPipedrive(h))]
		}
		if field == "" && exported { // Close's "custom.Industry" is an industry
			field = aliases[normaliseHeader(key)]
		}
		for _, f := range custom {
			if n == normaliseHeader(f.Key) || n == normaliseHeader(f.Label) || exported && key == f.Key {
				field = "custom." + f.Key
			}
		}
		if field != "" && (!used[field] || slices.Contains(multi, field)) {
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
