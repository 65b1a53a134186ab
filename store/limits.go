package store

// Lengths of text fields, in characters. The write paths and the row checks
// of a workspace import (archive_import_rules.go) read them from here, so
// what an import accepts cannot drift from what a form or the API accepts.
const (
	maxPersonName   = 100  // a contact's first and last name, and job title
	maxPhone        = 50   // a contact's phone number
	maxRecordTitle  = 200  // a company's name, a deal's or a task's title
	maxShortName    = 100  // a pipeline's or a stage's name, an industry
	maxMemberRef    = 100  // an owner or an assignee
	maxLostReason   = 500  // why a deal was lost
	maxFieldLabel   = 60   // a custom field's label, one option of a select field
	maxCustomText   = 1000 // a text custom field's value
	maxCustomKey    = 40   // a custom field's key
	maxAPIKeyName   = 100  // an API key's name
	maxEmailAddress = 254  // an email address (RFC 5321)
)
