package store

import (
	"context"
)

// CompanyCounts is how many people work at a company and how many of its
// deals are open.
type CompanyCounts struct {
	People    int `db:"people"`
	OpenDeals int `db:"open_deals"`
}

// companyCountsSQL counts per company in one statement: each subquery is a
// range of an index (contacts_company, deals_company), so a page of 50
// companies costs 100 index seeks whatever the size of the workspace.
const companyCountsSQL = `SELECT co.id,
	(SELECT count(*) FROM contacts c WHERE c.company_id = co.id) AS people,
	(SELECT count(*) FROM deals d WHERE d.company_id = co.id AND d.status = 'open') AS open_deals
	FROM companies co WHERE co.id IN `

// CountsOfCompanies returns the counts of each of these companies (a page
// of a list), keyed by id; unknown ids are left out.
func CountsOfCompanies(ctx context.Context, db *DB, ids []string) (map[string]CompanyCounts, error) {
	out := make(map[string]CompanyCounts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var rows []struct {
		ID string `db:"id"`
		CompanyCounts
	}
	if err := db.R.SelectContext(ctx, &rows, companyCountsSQL+"("+placeholders(len(ids))+")", args...); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ID] = r.CompanyCounts
	}
	return out, nil
}
