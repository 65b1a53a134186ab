package store

import (
	"context"
	"slices"
	"strings"
	"unicode"

	"github.com/jmoiron/sqlx"
)

// CompanyIDByName finds the oldest company with this name, in any letter case.
func CompanyIDByName(ctx context.Context, db *DB, name string) (string, error) {
	var id string
	err := getOne(ctx, db.R, &id, "company", `SELECT id FROM companies WHERE name = ? COLLATE NOCASE ORDER BY seq LIMIT 1`, strings.TrimSpace(name))
	return id, err
}

// legalForms are the words a company's name may end with that do not tell
// two companies apart ("Acme Inc" and "ACME, Inc." are one), lower-case and
// without dots.
var legalForms = map[string]bool{
	"inc": true, "incorporated": true, "corp": true, "corporation": true, "co": true, "company": true,
	"llc": true, "llp": true, "lp": true, "ltd": true, "limited": true, "plc": true,
	"gmbh": true, "ag": true, "kg": true, "ug": true, "ev": true, "sa": true, "sas": true, "sarl": true, "sl": true,
	"srl": true, "spa": true, "bv": true, "nv": true, "ab": true, "as": true, "oy": true, "aps": true, "pty": true,
}

// CompanyNameKey reduces a company name to what tells it apart: its words
// in lower case, punctuation and spacing dropped, a trailing legal form
// (or several, "Co. Ltd") removed, unless nothing else is left.
func CompanyNameKey(name string) string {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&' && r != '.'
	})
	for i, w := range words {
		words[i] = strings.ReplaceAll(w, ".", "")
	}
	words = slices.DeleteFunc(words, func(w string) bool { return w == "" })
	for len(words) > 1 && legalForms[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	if n := len(words); n > 1 && words[n-1] == "&" {
		words = words[:n-1]
	}
	return strings.Join(words, " ")
}

// maxNameCandidates bounds the companies compared by key: those whose name
// starts like the new one, read from the companies_name index.
const maxNameCandidates = 200

const similarCompaniesSQL = companySelect + ` WHERE co.name >= ? COLLATE NOCASE AND co.name < ? COLLATE NOCASE
	ORDER BY co.name COLLATE NOCASE, co.seq LIMIT ?`

// SimilarCompany returns the oldest company whose name has the same key as
// name (CompanyNameKey), or nil when there is none.
func SimilarCompany(ctx context.Context, db *DB, name string) (*Company, error) {
	return similarCompany(ctx, db.R, name)
}

func similarCompany(ctx context.Context, q sqlx.QueryerContext, name string) (*Company, error) {
	key := CompanyNameKey(name)
	if key == "" {
		return nil, nil
	}
	// Names with this key start with its first word in some letter case
	// (ASCII letters only: NOCASE folds no others): a range of the NOCASE
	// index, not a scan.
	prefix, _, _ := strings.Cut(key, " ")
	var cands []Company
	err := sqlx.SelectContext(ctx, q, &cands, similarCompaniesSQL, prefix, prefix+"\U0010FFFF", maxNameCandidates)
	if err != nil {
		return nil, err
	}
	var found *Company
	for i := range cands {
		if CompanyNameKey(cands[i].Name) == key && (found == nil || cands[i].Seq < found.Seq) {
			found = &cands[i]
		}
	}
	return found, nil
}

// DuplicateCompanyError refuses to create a company whose name has the key
// of an existing one's (CompanyInput.CheckDuplicate); Company is that one.
type DuplicateCompanyError struct{ Company *Company }

func (e *DuplicateCompanyError) Error() string {
	return "A company named " + e.Company.Name + " exists."
}

// checkDuplicate refuses c when in asks for the check and another company
// has the same name key, unless in confirms that very company.
func checkDuplicate(ctx context.Context, tx *sqlx.Tx, c *Company, in CompanyInput) error {
	if !in.CheckDuplicate {
		return nil
	}
	dup, err := similarCompany(ctx, tx, c.Name)
	if err != nil || dup == nil || dup.ID == in.ConfirmDuplicate {
		return err
	}
	return &DuplicateCompanyError{Company: dup}
}
