package store

import (
	"sync"
	"testing"
	"time"
)

func TestPasswordReset(t *testing.T) {
	ctx := t.Context()
	db := &Catalog{mustOpenCatalogFile(t)}
	u, err := CreateUser(ctx, db, NewUser{Email: "ana@example.com", Password: "first password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateSession(ctx, db, u.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := CreatePasswordReset(ctx, db, u.ID, "192.0.2.1", now)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	db.R.GetContext(ctx, &stored, `SELECT token_hash FROM password_resets`)
	if stored != HashToken(token) {
		t.Fatalf("stored %q, want the token's hash", stored)
	}
	t.Run("ErrPasswordKeepsTheLink", func(t *testing.T) {
		if _, err := UsePasswordReset(ctx, db, token, "short", now); ErrorCode(err) != EValidation {
			t.Fatalf("%v", err)
		}
		if _, err := PasswordResetUser(ctx, db.R, token, now); err != nil {
			t.Fatalf("a refused password used the link up: %v", err)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		if _, err := UsePasswordReset(ctx, db, token, "second password", now.Add(PasswordResetLifetime+time.Second)); err != ErrResetLinkInvalid {
			t.Fatalf("%v", err)
		}
	})
	t.Run("OKOnce", func(t *testing.T) {
		// Two tabs sending at once: one sets the password.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = UsePasswordReset(ctx, db, token, "second password", now)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) || (errs[0] != nil && errs[0] != ErrResetLinkInvalid) || (errs[1] != nil && errs[1] != ErrResetLinkInvalid) {
			t.Fatalf("want one success and one refusal: %v", errs)
		}
		got, err := Authenticate(ctx, db, u.Email, "second password")
		if err != nil {
			t.Fatal(err)
		}
		if !got.EmailVerified {
			t.Error("the address is not verified after a reset by its link")
		}
		var sessions int
		db.R.GetContext(ctx, &sessions, `SELECT count(*) FROM sessions WHERE user_id = ?`, u.ID)
		if sessions != 0 {
			t.Errorf("%d sessions left", sessions)
		}
	})
}

func TestSetPreferences(t *testing.T) {
	ctx := t.Context()
	db := &Catalog{mustOpenCatalogFile(t)}
	u, err := CreateUser(ctx, db, NewUser{Email: "ana@example.com", Password: "first password"})
	if err != nil {
		t.Fatal(err)
	}
	if u.DateFormat != DefaultDateFormat || u.TimeZone != "UTC" || u.Clock != Clock24h {
		t.Fatalf("defaults %+v", u)
	}
	for _, tc := range []struct {
		p     Preferences
		field string
	}{
		{Preferences{"dmy", "Europe/Lisbon", Clock12h}, ""},
		{Preferences{"ymd", "UTC", Clock24h}, "date_format"},
		{Preferences{"iso", "Europe/Nowhere", Clock24h}, "time_zone"},
		{Preferences{"iso", "Local", Clock24h}, "time_zone"},
		{Preferences{"iso", "", Clock24h}, "time_zone"},
		{Preferences{"iso", "UTC", "am/pm"}, "clock"},
	} {
		err := SetPreferences(ctx, db, u.ID, tc.p)
		if ErrorField(err) != tc.field || (tc.field == "") != (err == nil) {
			t.Errorf("%+v: %v, want an error on %q", tc.p, err, tc.field)
		}
	}
	got, _ := UserByID(ctx, db.R, u.ID)
	if got.DateFormat != "dmy" || got.TimeZone != "Europe/Lisbon" || got.Clock != Clock12h {
		t.Errorf("saved %+v", got)
	}
	if ErrorCode(SetPreferences(ctx, db, "nobody", Preferences{"iso", "UTC", Clock24h})) != ENotFound {
		t.Error("an unknown user")
	}
}
