package store

import (
	"strings"
	"testing"
)

func TestViews_CRUD(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	mk := func(user, name string, def bool) (*SavedView, error) {
		return CreateView(ctx, db, user, ViewContacts, ViewInput{Name: &name, Query: ptr("stage=lead"), IsDefault: &def})
	}
	a, err := mk("u1", " Leads ", true)
	if err != nil || a.Name != "Leads" {
		t.Fatalf("create: %+v %v", a, err)
	}
	t.Run("ErrName", func(t *testing.T) {
		for name, in := range map[string]string{"Empty": " ", "TooLong": strings.Repeat("é", MaxViewName+1), "Taken": "LEADS"} {
			if _, err := mk("u1", in, false); ErrorField(err) != "name" {
				t.Errorf("%s: got %v, want an error on name", name, err)
			}
		}
		if _, err := mk("u1", strings.Repeat("é", MaxViewName), false); err != nil {
			t.Errorf("a name of %d characters: %v", MaxViewName, err)
		}
	})
	t.Run("OneDefault", func(t *testing.T) {
		b, err := mk("u1", "Customers", true)
		if err != nil {
			t.Fatal(err)
		}
		p, err := UserListPrefs(ctx, db, "u1", ViewContacts)
		if err != nil || p.Default() == nil || p.Default().ID != b.ID {
			t.Fatalf("default %+v %v, want %s", p.Default(), err, b.ID)
		}
		if _, err := UpdateView(ctx, db, "u1", a.ID, ViewInput{IsDefault: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		p, _ = UserListPrefs(ctx, db, "u1", ViewContacts)
		if p.Default().ID != a.ID {
			t.Fatal("making a view the default did not replace the other")
		}
	})
	t.Run("OtherUser", func(t *testing.T) {
		if _, err := mk("u2", "Leads", false); err != nil {
			t.Fatalf("another user's same name: %v", err)
		}
		if _, err := GetView(ctx, db, "u2", a.ID); ErrorCode(err) != ENotFound {
			t.Errorf("get another's view: %v", err)
		}
		if _, err := UpdateView(ctx, db, "u2", a.ID, ViewInput{Name: ptr("Mine")}); ErrorCode(err) != ENotFound {
			t.Errorf("rename another's view: %v", err)
		}
		if err := DeleteView(ctx, db, "u2", a.ID); ErrorCode(err) != ENotFound {
			t.Errorf("delete another's view: %v", err)
		}
		p, _ := UserListPrefs(ctx, db, "u2", ViewContacts)
		if len(p.Views) != 1 || p.HasColumns {
			t.Errorf("u2's prefs: %+v", p)
		}
	})
	t.Run("Columns", func(t *testing.T) {
		if err := SetListColumns(ctx, db, "u1", ViewContacts, "email,custom.city"); err != nil {
			t.Fatal(err)
		}
		if err := SetListColumns(ctx, db, "u1", ViewContacts, "phone"); err != nil {
			t.Fatal(err)
		}
		p, err := UserListPrefs(ctx, db, "u1", ViewContacts)
		if err != nil || !p.HasColumns || p.Columns != "phone" || len(p.Views) != 3 {
			t.Fatalf("prefs %+v %v", p, err)
		}
	})
	if err := DeleteView(ctx, db, "u1", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetView(ctx, db, "u1", a.ID); ErrorCode(err) != ENotFound {
		t.Errorf("deleted view: %v", err)
	}
}
