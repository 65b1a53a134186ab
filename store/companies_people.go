package store

import (
	"context"
	"slices"
)

// PeoplePageSize is how many people a company page lists at once.
const PeoplePageSize = 50

// CompanyPeople is one page of the people working at a company, in the
// order they were added. From and To are 1-based positions ("1–50 of N");
// Prev and Next are the cursors of the neighbour pages, 0 when there is none.
type CompanyPeople struct {
	People          []Contact
	From, To, Total int
	Prev, Next      int64
}

const (
	peopleAfterSQL  = contactSelect + ` WHERE c.company_id = ? AND c.seq > ? ORDER BY c.seq LIMIT ?`
	peopleBeforeSQL = contactSelect + ` WHERE c.company_id = ? AND c.seq < ? ORDER BY c.seq DESC LIMIT ?`
)

// ListCompanyPeople returns the page after the contact with seq after, or
// before the one with seq before (both 0: the first page). It walks the
// contacts_company index, whose entries are ordered by seq within a
// company, so a page costs the same for 20,000 people as for 20: no sort,
// and the counts are ranges of the same index.
func ListCompanyPeople(ctx context.Context, db *DB, companyID string, after, before int64) (*CompanyPeople, error) {
	if after < 0 || before < 0 || after > 0 && before > 0 {
		return nil, Errorf(EInvalid, "A page of people starts after one person or ends before one, not both.")
	}
	var people []Contact
	var err error
	if before > 0 {
		err = db.R.SelectContext(ctx, &people, peopleBeforeSQL, companyID, before, PeoplePageSize+1)
	} else {
		err = db.R.SelectContext(ctx, &people, peopleAfterSQL, companyID, after, PeoplePageSize+1)
	}
	if err != nil {
		return nil, err
	}
	more := len(people) > PeoplePageSize
	if more {
		people = people[:PeoplePageSize]
	}
	if before > 0 {
		slices.Reverse(people)
	}
	p := &CompanyPeople{People: people}
	if err := db.R.GetContext(ctx, &p.Total, `SELECT count(*) FROM contacts WHERE company_id = ?`, companyID); err != nil {
		return nil, err
	}
	if len(people) == 0 {
		return p, nil
	}
	first, last := people[0].Seq, people[len(people)-1].Seq
	var earlier int
	if err := db.R.GetContext(ctx, &earlier, `SELECT count(*) FROM contacts WHERE company_id = ? AND seq < ?`, companyID, first); err != nil {
		return nil, err
	}
	p.From, p.To = earlier+1, earlier+len(people)
	if earlier > 0 {
		p.Prev = first
	}
	if p.To < p.Total {
		p.Next = last
	}
	return p, nil
}
