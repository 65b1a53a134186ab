package store

import (
	"context"
	"strconv"
	"strings"
	"unicode"
)

// Search limits: longer input is cut, so a 10,000-character query costs
// no more than a short one.
const (
	maxSearchTerms   = 8
	maxSearchTermLen = 40
)

// ftsQuery turns what a user typed into an FTS5 query that matches every
// word as a prefix. User input never reaches FTS5 syntax: words are runs of
// letters and digits, each quoted, so `"a OR`, `NEAR(`, `*` or a lone quote
// are searched as words (or ignored), never parsed. "" means nothing to search.
func ftsQuery(input string) string {
	words := strings.FieldsFunc(input, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	var terms []string
	for _, w := range words {
		if len(terms) == maxSearchTerms {
			break
		}
		if r := []rune(w); len(r) > maxSearchTermLen {
			w = string(r[:maxSearchTermLen])
		}
		terms = append(terms, `"`+w+`"*`)
	}
	return strings.Join(terms, " ")
}

// SearchResult is one hit of a workspace search.
type SearchResult struct {
	Kind    string  `db:"kind" json:"kind"` // contact, company, deal or note
	ID      string  `db:"id" json:"id"`
	Title   string  `db:"title" json:"title"`
	Snippet string  `db:"snippet" json:"snippet"`
	Link    string  `db:"link" json:"-"` // path of the page to open, under /w/{id}/
	Rank    float64 `db:"rank" json:"-"`
}

// Search finds contacts, companies, deals and notes of this workspace matching
// every word of q as a prefix, best matches first.
func Search(ctx context.Context, db *DB, q string, limit int) ([]SearchResult, error) {
	match := ftsQuery(q)
	if match == "" {
		return []SearchResult{}, nil
	}
	limit = clampLimit(limit)
	// Each part is ranked and cut to the limit on its own, then the parts
	// are merged by rank. Ranking costs bm25 per matching row, so only the
	// newest searchWindow matches of each kind are ranked: a prefix like
	// "a" matches most of a 100,000-contact workspace, and ranking all of
	// it would take 10 ms and more.
	var results []SearchResult
	err := db.R.SelectContext(ctx, &results, `
		SELECT * FROM (
			SELECT 'contact' AS kind, c.id, trim(c.first_name || ' ' || c.last_name) AS title,
				c.email AS snippet, 'contacts/' || c.id AS link, f.rank
			FROM (SELECT rowid, rank FROM contacts_fts WHERE contacts_fts MATCH ?1 AND rowid >= `+window("contacts_fts")+` ORDER BY rank LIMIT ?2) f
			JOIN contacts c ON c.seq = f.rowid
			UNION ALL
			SELECT 'company', co.id, co.name, co.domain, 'companies/' || co.id, f.rank
			FROM (SELECT rowid, rank FROM companies_fts WHERE companies_fts MATCH ?1 AND rowid >= `+window("companies_fts")+` ORDER BY rank LIMIT ?2) f
			JOIN companies co ON co.seq = f.rowid
			UNION ALL
			SELECT 'deal', d.id, d.title, d.status, 'deals/' || d.id, f.rank
			FROM (SELECT rowid, rank FROM deals_fts WHERE deals_fts MATCH ?1 AND rowid >= `+window("deals_fts")+` ORDER BY rank LIMIT ?2) f
			JOIN deals d ON d.seq = f.rowid
			UNION ALL
			SELECT 'note', n.id, coalesce(trim(c.first_name || ' ' || c.last_name), co.name, ''),
				f.snip, CASE WHEN n.contact_id IS NOT NULL THEN 'contacts/' || n.contact_id ELSE 'companies/' || n.company_id END, f.rank
			FROM (SELECT rowid, rank, snippet(notes_fts, 0, '', '', '…', 16) AS snip
				FROM notes_fts WHERE notes_fts MATCH ?1 AND rowid >= `+window("notes_fts")+` ORDER BY rank LIMIT ?2) f
			JOIN notes n ON n.seq = f.rowid
			LEFT JOIN contacts c ON c.id = n.contact_id
			LEFT JOIN companies co ON co.id = n.company_id
		) ORDER BY rank LIMIT ?2`, match, limit)
	if err != nil {
		return nil, err
	}
	if results == nil {
		results = []SearchResult{}
	}
	return results, nil
}

// searchWindow is how many of the newest matches of each kind are ranked.
const searchWindow = 1000

// window is the smallest rowid among the newest searchWindow matches of
// ?1 in an FTS table: a rowid range FTS5 applies before ranking.
func window(table string) string {
	return `coalesce((SELECT min(rowid) FROM (SELECT rowid FROM ` + table + ` WHERE ` + table +
		` MATCH ?1 ORDER BY rowid DESC LIMIT ` + strconv.Itoa(searchWindow) + `)), 0)`
}
