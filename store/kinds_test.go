package store

import "testing"

func TestParseKind(t *testing.T) {
	for _, k := range Kinds {
		t.Run("OK_"+string(k), func(t *testing.T) {
			if got, err := ParseKind(string(k)); err != nil || got != k {
				t.Fatalf("got %q, %v, want %q", got, err, k)
			}
		})
	}
	for _, s := range []string{"", "Contact", "contacts", " contact", "widget"} {
		t.Run("ErrUnknown_"+s, func(t *testing.T) {
			if _, err := ParseKind(s); ErrorCode(err) != EInvalid {
				t.Fatalf("got %v, want an %q error", err, EInvalid)
			}
		})
	}
}

// An unknown kind used to be read as "contact": a deal's timeline
// asked with a contact's id returned the contact's.
func TestTimeline_UnknownKind(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ann")})
	if items, err := Timeline(ctx, db, "contact", c.ID, 10); err != nil || len(items) != 1 {
		t.Fatalf("contact timeline: %v, %v", items, err)
	}
	for _, k := range []Kind{"deal", "widget", ""} {
		items, err := Timeline(ctx, db, k, c.ID, 10)
		if got, want := ErrorCode(err), EInvalid; got != want {
			t.Errorf("Timeline(%q): got %q and %d items, want %q", k, got, len(items), want)
		}
	}
	if _, err := CustomFields(ctx, db, "task"); ErrorCode(err) != EInvalid {
		t.Errorf("custom fields of tasks: got %v, want %q", err, EInvalid)
	}
	if _, _, err := ListAudit(ctx, db, AuditFilter{EntityType: "widget"}); ErrorCode(err) != EInvalid {
		t.Errorf("audit of widgets: got %v, want %q", err, EInvalid)
	}
	if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "task", Label: "X", Type: "text"}); ErrorCode(err) != EValidation {
		t.Errorf("custom field on tasks: got %v, want %q", err, EValidation)
	}
}
