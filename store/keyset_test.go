package store

import (
	"fmt"
	"testing"
)

// The audit log pages like every other list: full pages, a last page that
// is never empty, an opaque cursor, and a bad cursor refused as invalid.
func TestListAudit_Pages(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	for i := range 7 {
		if err := Audit(ctx, db, tester, "test.event", "contact", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OK", func(t *testing.T) {
		var sizes []int
		seen := map[int64]bool{}
		last := int64(1 << 62)
		cursor := ""
		for {
			events, next, err := ListAudit(ctx, db, AuditFilter{Action: "test.event", Cursor: cursor, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(events))
			for _, e := range events {
				if seen[e.Seq] || e.Seq >= last {
					t.Fatalf("seq %d after %d: not newest first, or twice", e.Seq, last)
				}
				seen[e.Seq], last = true, e.Seq
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if got, want := fmt.Sprint(sizes), "[3 3 1]"; got != want {
			t.Fatalf("page sizes %s, want %s", got, want)
		}
	})
	for name, c := range map[string]string{
		"ErrGarbage":   "garbage",
		"ErrSeqNumber": "42", // the format before the audit log shared the helper
		"ErrShape":     cursor{"a", 1.0}.encode(),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := ListAudit(ctx, db, AuditFilter{Cursor: c})
			if got, want := ErrorCode(err), EInvalid; got != want {
				t.Fatalf("got %q (%v), want %q", got, err, want)
			}
		})
	}
}

// A filter's zero value matches every row; conditions join with AND, and a
// copy that grows leaves the clause it came from as it was.
func TestClause(t *testing.T) {
	var w clause
	if got, want := w.sql(), "1=1"; got != want {
		t.Fatalf("empty: got %q, want %q", got, want)
	}
	w.eq("a", "")
	w.eq("b", "x")
	w.and("c > ?", 2)
	if got, want := w.sql(), "b = ? AND c > ?"; got != want || len(w.args) != 2 {
		t.Fatalf("got %q %v, want %q", got, w.args, want)
	}
	grown := w.clip()
	grown.and("d = ?", 3)
	if len(w.conds) != 2 || len(w.args) != 2 || len(grown.args) != 3 {
		t.Fatalf("the copy wrote into the original: %v / %v", w, grown)
	}
}
