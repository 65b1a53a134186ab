package store

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// What the exports of other CRMs need to import as they are: which tool a
// header comes from, their column names (in importcsv_mapping.go), full
// names in one column, several addresses in one cell, and their dates.

// The CRMs whose exports an import recognises, as the timeline names them.
const (
	SourceHubSpot    = "HubSpot"
	SourceSalesforce = "Salesforce"
	SourcePipedrive  = "Pipedrive"
	SourceZoho       = "Zoho CRM"
	SourceClose      = "Close"
)

// sourceMarks are normalised headers that only one tool writes (or that
// it writes in this spelling); two of them name the tool.
var sourceMarks = map[string][]string{
	SourceHubSpot: {"recordid", "createdate", "contactowner", "lifecyclestage", "leadstatus", "phonenumber", "countryregion",
		"stateregion", "websiteurl", "companydomainname", "dealname", "dealstage", "dealowner", "companyowner",
		"associatedcompany", "associatedcontact", "additionalemailaddresses", "lastactivitydate", "marketingcontactstatus"},
	SourceSalesforce: {"accountname", "mailingcity", "mailingstreet", "mailingcountry", "mailingstateprovince", "mailingzippostalcode",
		"leadsource", "createddate", "accountowner", "opportunityname", "opportunityowner", "billingcity", "billingcountry",
		"probability", "salutation", "contactid", "accountid", "contactowner", "birthdate"},
	// Zoho shares many names with Salesforce; its own (created and
	// modified time, secondary email) decide between them.
	SourceZoho: {"createdtime", "modifiedtime", "secondaryemail", "skypeid", "closingdate", "dealowner", "accountowner",
		"mailingzip", "mailingstate", "vendorname", "asstphone", "contactowner", "salutation", "accountname", "leadsource",
		"mailingstreet", "mailingcity", "mailingcountry", "billingcity", "billingcountry", "billingstreet"},
	// Close's leads (companies) and opportunities exports too.
	SourceClose: {"leadname", "leadid", "contactname", "datecreated", "dateupdated", "primaryemail", "primaryphone",
		"statuslabel", "leadowner", "contactemails", "contactphones", "createdbyname", "opportunityvalue", "opportunitystatus",
		"displayname", "statustype", "valuecurrency", "valueperiod", "valueformatted", "datewon", "username",
		"address1city", "address1country", "updatedbyname", "htmlurl"},
}

// pipedrivePrefixes start every column of a Pipedrive export.
var pipedrivePrefixes = []string{"Person - ", "Organization - ", "Deal - "}

// DetectSource names the CRM a CSV header was exported from, or "" when
// it is none it knows: Pipedrive by its column prefixes, the others by the
// most of their own column names (two at least).
func DetectSource(header []string) string {
	prefixed := 0
	for _, h := range header {
		if cutPipedrive(h) != h {
			prefixed++
		}
	}
	if prefixed > 0 && prefixed*2 >= len(header) {
		return SourcePipedrive
	}
	norm := make([]string, len(header))
	for i, h := range header {
		norm[i] = normaliseHeader(h)
	}
	// Close writes snake_case lower-case headers; the others Title Case.
	snake := 0
	for _, h := range header {
		if strings.Contains(h, "_") && strings.ToLower(h) == h {
			snake++
		}
	}
	best, bestScore := "", 1
	for _, src := range []string{SourceHubSpot, SourceSalesforce, SourceZoho, SourceClose} {
		score := 0
		for _, n := range norm {
			if slices.Contains(sourceMarks[src], n) {
				score++
			}
		}
		if src == SourceClose && snake*2 < len(header) {
			score = 0
		}
		if score > bestScore {
			best, bestScore = src, score
		}
	}
	return best
}

// cutPipedrive returns a Pipedrive column name without its entity prefix
// ("Person - Email - Work" is "Email - Work").
func cutPipedrive(h string) string {
	for _, p := range pipedrivePrefixes {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(h), p); ok {
			return rest
		}
	}
	return h
}

// nameParticles are the words that belong to the last name when they come
// before it ("Jan van der Berg" is Jan, van der Berg).
var nameParticles = []string{"van", "de", "von", "da", "di", "le", "la", "del", "der", "den", "du", "dos", "das", "della", "ter", "ten", "zu", "af"}

// SplitFullName splits a full name written in one column into first and
// last: the last word with the particles before it is the last name, the
// rest the first; "Berg, Jan" is last name first. One word is a first name.
func SplitFullName(full string) (first, last string) {
	full = strings.Join(strings.Fields(full), " ")
	if l, f, ok := strings.Cut(full, ","); ok && strings.TrimSpace(f) != "" {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	words := strings.Fields(full)
	if len(words) < 2 {
		return full, ""
	}
	i := len(words) - 1 // where the last name starts
	for i > 1 && slices.Contains(nameParticles, strings.ToLower(words[i-1])) {
		i--
	}
	return strings.Join(words[:i], " "), strings.Join(words[i:], " ")
}

// splitEmails cuts a cell holding several addresses (HubSpot's
// "Additional email addresses" separates them with semicolons).
func splitEmails(cell string) []string {
	return strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == ',' || r == '|' || unicode.IsSpace(r) })
}

// splitPhones cuts a cell holding several phone numbers; spaces and commas
// stay, as they are written inside numbers.
func splitPhones(cell string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == '|' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Layouts of the dates the exports write: ISO with and without time
// (HubSpot, Pipedrive, Zoho, Close, Salesforce's data export; Close's
// "original" format has a space, microseconds and an offset), and
// written-out months. Dates with slashes or dots are read by parseDMY.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05",
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05-07:00", "2006-01-02", "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700",
	"Jan 2, 2006", "Jan 2, 2006 3:04 PM", "Jan 2, 2006, 3:04 PM", "January 2, 2006", "2 Jan 2006", "2 January 2006",
	"02-Jan-2006", "Mon Jan 2 2006", "Mon, 2 Jan 2006 15:04:05 -0700",
}

var slashDate = regexp.MustCompile(`^(\d{1,2})([/.])(\d{1,2})[/.](\d{4}|\d{2})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$`)

// ParseImportDate reads a date or time as the exports write it, in UTC
// when it names no zone. Dates with slashes are month first as US exports
// write them, unless dayFirst (or the first number is above 12); dates
// with dots are day first (German and other European settings).
func ParseImportDate(s string, dayFirst bool) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	m := slashDate.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	year, _ := strconv.Atoi(m[4])
	if len(m[4]) == 2 {
		year += 2000
		if year > time.Now().Year()+1 {
			year -= 100
		}
	}
	month, day := a, b
	if dayFirst || m[2] == "." || a > 12 {
		month, day = b, a
	}
	hour, _ := strconv.Atoi(m[5])
	minute, _ := strconv.Atoi(m[6])
	sec, _ := strconv.Atoi(m[7])
	switch strings.ToLower(m[8]) {
	case "pm":
		if hour < 12 {
			hour += 12
		}
	case "am":
		if hour == 12 {
			hour = 0
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // 31 April
		return time.Time{}, false
	}
	return t, true
}

// dayFirstColumn reports whether a column's slashed dates are day first:
// one of them starts with a number above 12.
func dayFirstColumn(values []string) bool {
	for _, v := range values {
		if m := slashDate.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
			if a, _ := strconv.Atoi(m[1]); a > 12 {
				return true
			}
		}
	}
	return false
}

// maxSelectOptions is how many distinct values a column may have to be
// guessed a select field.
const maxSelectOptions = 10

var domainLike = regexp.MustCompile(`^(?i)(www\.)?[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.[a-z]{2,}(/\S*)?$`)

// isURL reports whether a value is a web address: with http(s), or a bare
// domain as exports write a website.
func isURL(v string) bool {
	if strings.ContainsAny(v, " @") {
		return false
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return true
	}
	return domainLike.MatchString(v)
}

// GuessFieldType guesses the type of a custom field for a column from its
// values: number, date, url, select (few distinct values, repeated), or
// text. complete says the values are the whole column: a select is guessed
// only then, as a later value outside its options would be refused.
// options are the select's, in order of first appearance.
func GuessFieldType(values []string, complete bool) (typ string, options []string) {
	var seen []string
	numbers, dates, urls, n, long := 0, 0, 0, 0, false
	dayFirst := dayFirstColumn(values)
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		n++
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			numbers++
		}
		if _, ok := ParseImportDate(v, dayFirst); ok {
			dates++
		}
		if isURL(v) {
			urls++
		}
		if len([]rune(v)) > maxFieldLabel || strings.ContainsAny(v, "\n,") {
			long = true
		}
		if !slices.Contains(seen, v) && len(seen) <= maxSelectOptions {
			seen = append(seen, v)
		}
	}
	switch {
	case n == 0:
		return "text", nil
	case numbers == n:
		return "number", nil
	case dates == n:
		return "date", nil
	case urls == n:
		return "url", nil
	case complete && !long && len(seen) <= maxSelectOptions && len(seen) < n:
		return "select", seen
	}
	return "text", nil
}

// stageAliases map the lifecycle stages and statuses other CRMs write to
// Atrium's, by normalised value.
var stageAliases = map[string]string{
	"subscriber": "lead", "new": "lead", "lead": "lead", "other": "lead", "prospect": "lead", "open": "lead",
	"marketingqualifiedlead": "qualified", "mql": "qualified", "salesqualifiedlead": "qualified", "sql": "qualified", "qualified": "qualified",
	"opportunity": "opportunity", "customer": "customer", "evangelist": "customer", "won": "customer", "client": "customer",
	"churned": "churned", "formercustomer": "churned", "lost": "churned",
}

// importStage maps a stage as written to one of Stages; an unknown one is
// returned lower-cased, to be refused with the list of stages.
func importStage(v string) string {
	if s, ok := stageAliases[normaliseHeader(v)]; ok {
		return s
	}
	return strings.ToLower(v)
}
