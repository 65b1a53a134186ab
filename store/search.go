package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Search limits: longer input is cut, so a 10,000-character query costs
// no more than a short one.
const (
	maxSearchTerms   = 8
	maxSearchTermLen = 40
)

// searchWords returns the words of what a user typed: runs of letters,
// digits and combining marks, composed (NFC) first so that "Mu" followed by
// a combining diaeresis is the one word "Mü", as the index's tokenizer
// reads it (unicode61 with remove_diacritics folds it to "mu"). At most
// maxSearchTerms words of at most maxSearchTermLen characters; a "word" of
// marks alone is no word.
func searchWords(input string) []string {
	if len(input) > 4*maxSearchTerms*maxSearchTermLen*2 {
		input = input[:4*maxSearchTerms*maxSearchTermLen*2] // a cut rune becomes a separator below
	}
	input = norm.NFC.String(input)
	var words []string
	for _, w := range strings.FieldsFunc(input, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Mn, r)
	}) {
		if len(words) == maxSearchTerms {
			break
		}
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
			continue
		}
		if r := []rune(w); len(r) > maxSearchTermLen {
			w = string(r[:maxSearchTermLen])
		}
		words = append(words, w)
	}
	return words
}

// ftsQuery turns what a user typed into an FTS5 query that matches every
// word as a prefix. User input never reaches FTS5 syntax: words are runs of
// letters and digits, each quoted, so `"a OR`, `NEAR(`, `*` or a lone quote
// are searched as words (or ignored), never parsed. "" means nothing to search.
func ftsQuery(input string) string { return prefixes(searchWords(input)) }

// prefixes is every word as a prefix: "w1"* "w2"*.
func prefixes(words []string) string {
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"*`
	}
	return strings.Join(terms, " ")
}

// exact is every word as a whole word (in the columns, when set): a
// query FTS5 answers by walking one list per word and stopping at the
// limit. A prefix ("okafor"*, longer than the index's 2- and 3-character
// prefix lists) makes FTS5 first merge the lists of every word it begins,
// all their rows: 3 to 15 ms for a name on 87,000 of 1,000,000 contacts,
// 48 ms restricted to columns, against 0.15 ms for the word itself.
func exact(cols string, words []string) string {
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"`
	}
	if cols == "" {
		return strings.Join(terms, " ")
	}
	return cols + " : (" + strings.Join(terms, " ") + ")"
}

// lastPrefix is every word whole but the last, which may be cut short:
// what a user still typing means.
func lastPrefix(words []string) string {
	return exact("", words) + "*"
}

// SearchResult is one hit of a workspace search.
type SearchResult struct {
	Kind    string  `db:"kind" json:"kind"` // contact, company, deal or note
	ID      string  `db:"id" json:"id"`
	Title   string  `db:"title" json:"title"`
	Snippet string  `db:"snippet" json:"snippet"`
	Link    string  `db:"link" json:"-"` // path of the page to open, under /w/{id}/
	Rank    float64 `db:"-" json:"-"`    // lower first: see searchScore
	Seq     int64   `db:"seq" json:"-"`
}

// SearchKinds are the kinds a search finds, in the order results of the
// same rank are listed and the search page groups them: a company named
// like the query is what one most often looks for.
var SearchKinds = []string{"company", "contact", "deal", "note"}

// searchSource is one kind's index: its FTS table, the columns that hold
// the record's name, and the SELECT of its results over f, a subquery of
// the FTS table's matching rowids.
type searchSource struct {
	fts   string
	names string // column filter of the name columns; "" when no column is a name
	sel   string // with %s for the subquery f (rowid, and snip for notes)
}

var searchSources = map[string]searchSource{
	"company": {fts: "companies_fts", names: "{name}",
		sel: `SELECT 'company' AS kind, co.id, co.name AS title, co.domain AS snippet, 'companies/' || co.id AS link, co.seq
			FROM (%s) f JOIN companies co ON co.seq = f.rowid`},
	"contact": {fts: "contacts_fts", names: "{first_name last_name}",
		sel: `SELECT 'contact' AS kind, c.id, trim(c.first_name || ' ' || c.last_name) AS title,
			c.email AS snippet, 'contacts/' || c.id AS link, c.seq
			FROM (%s) f JOIN contacts c ON c.seq = f.rowid`},
	"deal": {fts: "deals_fts", names: "{title}",
		sel: `SELECT 'deal' AS kind, d.id, d.title, d.status AS snippet, 'deals/' || d.id AS link, d.seq
			FROM (%s) f JOIN deals d ON d.seq = f.rowid`},
	"note": {fts: "notes_fts",
		sel: `SELECT 'note' AS kind, n.id, coalesce(trim(c.first_name || ' ' || c.last_name), co.name, d.title, '') AS title,
			f.snip AS snippet, CASE WHEN n.contact_id IS NOT NULL THEN 'contacts/' || n.contact_id
				WHEN n.company_id IS NOT NULL THEN 'companies/' || n.company_id ELSE 'deals/' || n.deal_id END AS link, n.seq
			FROM (%s) f JOIN notes n ON n.seq = f.rowid
			LEFT JOIN contacts c ON c.id = n.contact_id
			LEFT JOIN companies co ON co.id = n.company_id
			LEFT JOIN deals d ON d.id = n.deal_id`},
}

// matching is the subquery of an FTS table's newest matches, before a
// rowid when before > 0: FTS5 walks its index in rowid order and stops at
// the limit, so a word on 66,000 contacts costs what a rare one does.
// Ranking every match (bm25) read all of them: 96 ms for a word on 8,700
// of 100,000 contacts, against 0.4 ms.
func (s searchSource) matching(before bool) string {
	cols := "rowid"
	if s.fts == "notes_fts" {
		cols += ", snippet(notes_fts, 0, '', '', '…', 16) AS snip"
	}
	cond := ""
	if before {
		cond = " AND rowid < ?"
	}
	return "SELECT " + cols + " FROM " + s.fts + " WHERE " + s.fts + " MATCH ?" + cond + " ORDER BY rowid DESC LIMIT ?"
}

func (s searchSource) query(before bool) string {
	return strings.Replace(s.sel, "%s", s.matching(before), 1)
}

// Rank tiers of a search result, best first.
const (
	rankExact  = iota // the name is the query
	rankStarts        // the name starts with the query
	rankName          // every word is in the name
	rankOther         // some word only in another field (email, phone, domain, custom fields, a note)
)

// best returns up to limit matches of one kind, best first: names that
// are the query, then names that start with it, then names holding its
// words, then other matches; newest first within each. Candidates come
// from up to three queries, each stopping at the limit and run only while
// the ones before found fewer: the words whole in the name columns, the
// words whole but the last anywhere, then every word as a prefix.
func (s searchSource) best(ctx context.Context, db *DB, words []string, limit int) ([]SearchResult, error) {
	var tiers []string
	if s.names != "" {
		tiers = append(tiers, exact(s.names, words))
	}
	if len(words) > 1 {
		tiers = append(tiers, lastPrefix(words))
	}
	tiers = append(tiers, prefixes(words))
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = foldText(w)
	}
	var found []SearchResult
	seen := map[int64]bool{}
	for _, match := range tiers {
		if len(found) >= limit {
			break
		}
		var rs []SearchResult
		if err := db.R.SelectContext(ctx, &rs, s.query(false), match, limit); err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !seen[r.Seq] {
				seen[r.Seq] = true
				r.Rank = searchScore(r, q)
				found = append(found, r)
			}
		}
	}
	slices.SortStableFunc(found, func(a, b SearchResult) int {
		if a.Rank != b.Rank {
			return cmp.Compare(a.Rank, b.Rank)
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	return found[:min(len(found), limit)], nil
}

// searchScore is a result's tier, from its name and the folded words of
// the query. A note is found by its text, never by its name.
func searchScore(r SearchResult, q []string) float64 {
	if r.Kind == "note" {
		return rankOther
	}
	title := searchWords(foldText(r.Title))
	n := len(q)
	switch {
	case slices.Equal(title, q):
		return rankExact
	case len(title) >= n && slices.Equal(title[:n-1], q[:n-1]) && strings.HasPrefix(title[n-1], q[n-1]):
		// The shorter name is nearer the query: "Cyberdyne" before
		// "Cyberdyne Systems Europe" for "cyber".
		return rankStarts + float64(min(len(r.Title), 999))/1000
	}
	for _, w := range q {
		if !slices.ContainsFunc(title, func(t string) bool { return strings.HasPrefix(t, w) }) {
			return rankOther
		}
	}
	return rankName
}

// foldText is s in lower case without diacritics, as the index compares
// words ("Müller" and "muller" are the same word).
func foldText(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Search finds contacts, companies, deals and notes of this workspace
// matching every word of q as a prefix, best first: by rank tier (a name
// that is the query, then one that starts with it, then names holding its
// words, then matches in other fields), then companies, contacts, deals
// and notes, then newest first.
func Search(ctx context.Context, db *DB, q string, limit int) ([]SearchResult, error) {
	words := searchWords(q)
	results := []SearchResult{}
	if len(words) == 0 {
		return results, nil
	}
	limit = clampLimit(limit)
	for _, kind := range SearchKinds {
		rs, err := searchSources[kind].best(ctx, db, words, limit)
		if err != nil {
			return nil, err
		}
		results = append(results, rs...)
	}
	order := func(kind string) int { return slices.Index(SearchKinds, kind) }
	slices.SortStableFunc(results, func(a, b SearchResult) int {
		switch {
		case a.Rank != b.Rank:
			return cmp.Compare(a.Rank, b.Rank)
		case a.Kind != b.Kind:
			return cmp.Compare(order(a.Kind), order(b.Kind))
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	return results[:min(len(results), limit)], nil
}

// SearchCountCap is where search counts stop: a word on 66,000 contacts
// is "1,000+" on the search page, counted in the time of a rare word.
const SearchCountCap = 1000

// SearchGroup is one kind's part of a search: its best results and how
// many it has in all (at most SearchCountCap; Capped when there are more).
type SearchGroup struct {
	Kind    string
	Results []SearchResult
	Count   int
	Capped  bool
}

// SearchGroups finds, for each kind, its best perKind results and counts
// its matches up to SearchCountCap. Kinds without a match are left out.
func SearchGroups(ctx context.Context, db *DB, q string, perKind int) ([]SearchGroup, error) {
	words := searchWords(q)
	groups := []SearchGroup{}
	if len(words) == 0 {
		return groups, nil
	}
	for _, kind := range SearchKinds {
		s := searchSources[kind]
		n, err := s.count(ctx, db, words)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		rs, err := s.best(ctx, db, words, clampLimit(perKind))
		if err != nil {
			return nil, err
		}
		groups = append(groups, SearchGroup{Kind: kind, Results: rs, Count: min(n, SearchCountCap), Capped: n > SearchCountCap})
	}
	return groups, nil
}

// count counts a kind's matches up to SearchCountCap+1. The words whole
// are counted first: when they alone pass the cap, the prefixes (which
// match as many and more, and cost more, see exact) need no counting.
func (s searchSource) count(ctx context.Context, db *DB, words []string) (int, error) {
	var n int
	for _, match := range []string{exact("", words), prefixes(words)} {
		if err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM `+s.fts+` WHERE `+s.fts+` MATCH ? LIMIT ?)`,
			match, SearchCountCap+1); err != nil || n > SearchCountCap {
			return n, err
		}
	}
	return n, nil
}

// SearchKind lists every match of one kind, newest first, a page at a
// time: the search page's "show all". cursor is "" or the previous page's
// next cursor; next is "" on the last page.
func SearchKind(ctx context.Context, db *DB, q, kind, cur string, limit int) (results []SearchResult, next string, err error) {
	s, ok := searchSources[kind]
	if !ok {
		return nil, "", Errorf(EInvalid, "Search can list companies, contacts, deals or notes.")
	}
	results = []SearchResult{}
	words := searchWords(q)
	if len(words) == 0 {
		return results, "", nil
	}
	limit = clampLimit(limit)
	args := []any{prefixes(words)}
	if cur != "" {
		c, err := decodeCursor(cur, 1)
		if err != nil {
			return nil, "", err
		}
		args = append(args, c[0])
	}
	if err := db.R.SelectContext(ctx, &results, s.query(cur != ""), append(args, limit+1)...); err != nil {
		return nil, "", err
	}
	slices.SortFunc(results, func(a, b SearchResult) int { return cmp.Compare(b.Seq, a.Seq) })
	if len(results) > limit {
		results = results[:limit]
		next = cursor{results[limit-1].Seq}.encode()
	}
	return results, next, nil
}
