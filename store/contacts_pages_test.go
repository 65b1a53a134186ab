package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// names lists the first names of a page, for comparing pages.
func names(list []Contact) string {
	var out []string
	for _, c := range list {
		out = append(out, c.FirstName)
	}
	return strings.Join(out, " ")
}

// Walking a list backward gives the pages walking it forward gave, in every
// sort (names with ties, so the unique last key decides), and Last is the
// forward walk's last page.
func TestContacts_ListBackward(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	for i := range 11 {
		// Three last names only: the sort by name has ties to break.
		mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprintf("p%02d", i)), LastName: ptr([]string{"Berg", "Aalto", "Cruz"}[i%3]), Title: ptr("Paged")})
	}
	// "Paged" matches all eleven through the search index: the created
	// order then walks the index's rowids, the others sort the matches.
	for _, query := range []string{"", "Paged"} {
		for _, sort := range []string{"created", "name", "updated"} {
			for _, asc := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s-asc=%v-q=%s", sort, asc, query), func(t *testing.T) {
					f := ContactFilter{Query: query, Sort: sort, Asc: asc, Limit: 4}
					var forward []string
					var nexts []Cursors
					for {
						list, c, err := ListContactsPage(ctx, db, f)
						if err != nil {
							t.Fatal(err)
						}
						forward = append(forward, names(list))
						nexts = append(nexts, c)
						if c.Next == "" {
							break
						}
						f.Cursor = c.Next
					}
					if len(forward) != 3 || nexts[0].Prev != "" {
						t.Fatalf("forward pages %q, first page's prev %q", forward, nexts[0].Prev)
					}
					// Last page, then Previous until the start.
					f = ContactFilter{Query: query, Sort: sort, Asc: asc, Limit: 4, Before: true}
					var backward []string
					for {
						list, c, err := ListContactsPage(ctx, db, f)
						if err != nil {
							t.Fatal(err)
						}
						backward = append(backward, names(list))
						if len(backward) == 1 && c.Next != "" {
							t.Errorf("the last page has a next page")
						}
						if len(backward) > 1 && c.Next == "" {
							t.Errorf("page %d read backward has no next page", len(backward))
						}
						if c.Prev == "" {
							break
						}
						f.Cursor = c.Prev
					}
					slices.Reverse(backward)
					// The last page read backward is a full page: the first
					// page then is the short one.
					got, want := strings.Join(backward, " "), strings.Join(forward, " ")
					if got != want {
						t.Fatalf("backward %q, want the rows of %q in order", backward, forward)
					}
					var sizes []int
					for _, p := range backward {
						sizes = append(sizes, len(strings.Fields(p)))
					}
					if fmt.Sprint(sizes) != "[3 4 4]" {
						t.Errorf("page sizes read backward %v, want [3 4 4]: the last page full", sizes)
					}
				})
			}
		}
	}
}

// Rows deleted between pages: Previous from a page whose previous rows
// are gone still reaches the start, without repeating or skipping rows
// that are still there.
func TestContacts_ListBackwardAfterDeletes(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	var ids []string
	for i := range 10 {
		ids = append(ids, mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprintf("p%02d", i))}).ID)
	}
	// Newest first: p09 p08 p07 | p06 p05 p04 | p03 p02 p01 | p00
	f := ContactFilter{Limit: 3}
	_, c, err := ListContactsPage(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Cursor = c.Next
	second, c2, err := ListContactsPage(ctx, db, f)
	if err != nil || names(second) != "p06 p05 p04" {
		t.Fatalf("second page %q %v", names(second), err)
	}
	// p08 goes and the first row of the second page too.
	for _, i := range []int{8, 6} {
		if err := DeleteContact(ctx, db, tester, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	prev, pc, err := ListContactsPage(ctx, db, ContactFilter{Limit: 3, Cursor: c2.Prev, Before: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(prev), "p09 p07"; got != want || pc.Prev != "" {
		t.Fatalf("previous page %q (prev %q), want %q and no page before", got, pc.Prev, want)
	}
	next, _, err := ListContactsPage(ctx, db, ContactFilter{Limit: 3, Cursor: pc.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(next), "p05 p04 p03"; got != want {
		t.Fatalf("next from there %q, want %q", got, want)
	}
}

// A bulk action on a filter walks every match batch by batch, also when
// the action takes the contacts out of the filter; others are untouched.
func TestContacts_BulkMatching(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	const n = 2*BulkBatch + 50
	for i := range n {
		mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprintf("p%04d", i)), Tags: ptr([]string{"t"})})
	}
	other := mustContact(t, db, ContactInput{FirstName: ptr("Other"), Tags: ptr([]string{"u"})})
	var steps []int
	res, err := BulkContactsMatching(ctx, db, tester, ContactFilter{Tag: "t", Sort: "name", Cursor: "ignored"}, BulkAction{Kind: "untag", Value: "T"},
		func(done int) { steps = append(steps, done) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != n || res.Changed != n || fmt.Sprint(steps) != fmt.Sprint([]int{BulkBatch, 2 * BulkBatch, n}) {
		t.Fatalf("result %+v, progress %v", res, steps)
	}
	if left, _ := CountContacts(ctx, db, ContactFilter{Tag: "t"}); left != 0 {
		t.Fatalf("%d contacts still tagged", left)
	}
	if got, _ := GetContact(ctx, db, other.ID); len(got.Tags) != 1 {
		t.Fatal("a contact outside the filter changed")
	}
	t.Run("ErrAction", func(t *testing.T) {
		for _, act := range []BulkAction{{Kind: "stage", Value: "nope"}, {Kind: "tag"}, {Kind: "explode"}} {
			if _, err := BulkContactsMatching(ctx, db, tester, ContactFilter{}, act, nil); ErrorCode(err) != EValidation {
				t.Errorf("%+v: %v", act, err)
			}
		}
	})
	t.Run("DeleteBySearch", func(t *testing.T) {
		res, err := BulkContactsMatching(ctx, db, tester, ContactFilter{Query: "p00"}, BulkAction{Kind: "delete"}, nil)
		if err != nil || res.Matched != 100 {
			t.Fatalf("%+v %v", res, err)
		}
		if left, _ := CountContacts(ctx, db, ContactFilter{Query: "p00"}); left != 0 {
			t.Fatalf("the search still finds %d", left)
		}
		if left, _ := CountContacts(ctx, db, ContactFilter{}); left != n+1-100 {
			t.Fatalf("%d contacts left", left)
		}
	})
}
