package handlers

import (
	"net/url"
	"strconv"

	"atrium/store"
)

// pageNav is the pagination of a keyset-paginated list that says where the
// page is: "51–100 of 4,956", with First, Previous, Next and Last. The
// position travels in the URL as from (the first row's number), since a
// cursor alone cannot say it; Last and a page read back to the start know
// it from the total and from 1.
type pageNav struct {
	From, To, Total int // From is 0 when the position is unknown
	Shown           int
	First, Prev     string // links, "" when there is no page before
	Next, Last      string // links, "" when there is no page after
}

// pageParams are the query parameters that say which page of a list is
// shown; every other parameter is the list's filters, sort and columns.
var pageParams = []string{"cursor", "before", "page", "from"}

// listPosition reads which page of a list q asks for: a cursor read forward
// (cursor), backward (before) or the last page (page=last), and the
// position of the page's first row when the URL carries it.
func listPosition(q url.Values) (cursor string, before bool, from int) {
	from, _ = strconv.Atoi(q.Get("from"))
	switch {
	case q.Get("before") != "":
		return q.Get("before"), true, max(from, 0)
	case q.Get("page") == "last":
		return "", true, 0
	}
	return q.Get("cursor"), false, max(from, 0)
}

// newPageNav builds the pagination of a page of shown rows (at most limit)
// of total, read as listPosition said, with its neighbours' cursors.
func newPageNav(params url.Values, cur store.Cursors, shown, limit, total, from int, cursor string, before bool) pageNav {
	switch {
	case cursor == "" && !before: // the first page
		from = 1
	case cursor == "" && before: // the last page
		from = total - shown + 1
	case before && cur.Prev == "": // read back to the start
		from = 1
	case cur.Next == "": // the last page, whatever the URL said
		from = total - shown + 1
	}
	if shown == 0 || from < 1 || from+shown-1 > total {
		from = 0 // a stale or made-up position is not shown
	}
	nav := pageNav{Total: total, Shown: shown, From: from}
	if from > 0 {
		nav.To = from + shown - 1
	}
	link := func(kv ...string) string {
		drop := []string{}
		for _, k := range pageParams {
			drop = append(drop, k, "")
		}
		return withParams(params, append(drop, kv...)...)
	}
	if cur.Prev != "" || (cursor != "" && !before) {
		nav.First = link()
	}
	if cur.Prev != "" {
		prevFrom := ""
		if from > limit {
			prevFrom = strconv.Itoa(from - limit)
		}
		nav.Prev = link("before", cur.Prev, "from", prevFrom)
	}
	if cur.Next != "" {
		nextFrom := ""
		if from > 0 {
			nextFrom = strconv.Itoa(from + shown)
		}
		nav.Next = link("cursor", cur.Next, "from", nextFrom)
		nav.Last = link("page", "last")
	}
	return nav
}
