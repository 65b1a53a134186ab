package store

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"
	"unicode"

	"github.com/jmoiron/sqlx"
	"golang.org/x/text/cases"
	"modernc.org/sqlite"
)

// company_name_key(name) is CompanyNameKey in SQL: writes store it in
// companies.name_key (one index lookup finds a duplicate) and migration
// 0021 filled it. It is Go's, not SQL's, because SQLite's lower() and
// NOCASE fold only ASCII letters.
func init() {
	err := sqlite.RegisterDeterministicScalarFunction("company_name_key", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return CompanyNameKey(v), nil
		case []byte:
			return CompanyNameKey(string(v)), nil
		}
		return "", nil
	})
	if err != nil {
		panic(err)
	}
}

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
// case-folded (Unicode: "Söhne" and "SÖHNE" are one, "Straße" and
// "STRASSE" too), punctuation and spacing dropped, a trailing legal form
// (or several, "Co. Ltd") removed, unless nothing else is left.
func CompanyNameKey(name string) string {
	words := strings.FieldsFunc(cases.Fold().String(name), func(r rune) bool {
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

const similarCompanySQL = companySelect + ` WHERE co.name_key = ? ORDER BY co.seq LIMIT 1`

// SimilarCompany returns the oldest company whose name has the same key as
// name (CompanyNameKey), or nil when there is none.
func SimilarCompany(ctx context.Context, db *DB, name string) (*Company, error) {
	return similarCompany(ctx, db.R, name)
}

// similarCompany reads the companies_name_key index: one lookup, whatever
// the letters' script.
func similarCompany(ctx context.Context, q sqlx.QueryerContext, name string) (*Company, error) {
	key := CompanyNameKey(name)
	if key == "" {
		return nil, nil
	}
	var c Company
	err := getOne(ctx, q, &c, "company", similarCompanySQL, key)
	if ErrorCode(err) == ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
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
