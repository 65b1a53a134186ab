package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

func TestClock_Formats(t *testing.T) {
	at := time.Date(2026, 11, 30, 13, 5, 9, 0, time.UTC)
	paris := &store.User{DateFormat: "dmy", TimeZone: "Europe/Paris", Clock: store.Clock12h}
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"default", clockOf(nil).DateTime(at), "2026-11-30 13:05 UTC"},
		{"a user who chose nothing", clockOf(&store.User{DateFormat: "iso", TimeZone: "UTC", Clock: "24h"}).DateTime(at), "2026-11-30 13:05 UTC"},
		{"day first, Paris, 12h", clockOf(paris).DateTime(at), "30/11/2026 2:05 PM CET"},
		{"month first, New York", clockOf(&store.User{DateFormat: "mdy", TimeZone: "America/New_York", Clock: "24h"}).DateTime(at), "11/30/2026 08:05 EST"},
		{"day and month name, Tokyo (next day there)", clockOf(&store.User{DateFormat: "d_mon_y", TimeZone: "Asia/Tokyo", Clock: "24h"}).Date(at.Add(12 * time.Hour)), "1 Dec 2026"},
		{"to the second", clockOf(paris).Seconds(at), "30/11/2026 2:05:09 PM CET"},
		{"a due day takes no zone", clockOf(paris).Day("2027-01-15"), "15/01/2027"},
		{"not a day", clockOf(paris).Day("soon"), "soon"},
		{"long ago is a date", clockOf(paris).Ago(at.AddDate(-1, 0, 0)), "30/11/2025"},
		{"recent is relative", clockOf(paris).Ago(time.Now().Add(-3 * time.Hour)), "3 h ago"},
		{"an unknown zone falls back to UTC", clockOf(&store.User{DateFormat: "iso", TimeZone: "Mars/Olympus", Clock: "24h"}).DateTime(at), "2026-11-30 13:05 UTC"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestAccount_DatePreferences(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.token("/account")
	form := func(format, zone, clk string) url.Values {
		return url.Values{"date_format": {format}, "time_zone": {zone}, "clock": {clk}}
	}
	t.Run("ErrTimeZone", func(t *testing.T) {
		for _, zone := range []string{"Europe/Pariss", "", "Local", "../../etc/passwd"} {
			r := c.post("/account/preferences", token, form("dmy", zone, "24h"))
			wantStatus(t, "zone "+zone, r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.body, "is not a time zone") || !strings.Contains(r.body, `value="`+zone+`"`) {
				t.Errorf("zone %q: no error or the value is lost: %.2000s", zone, r.body)
			}
		}
	})
	t.Run("ErrDateFormat", func(t *testing.T) {
		r := c.post("/account/preferences", token, form("yyyy", "UTC", "24h"))
		wantStatus(t, "format", r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, "Choose one of the date formats shown.") {
			t.Errorf("no error: %.2000s", r.body)
		}
	})
	t.Run("ErrClock", func(t *testing.T) {
		wantStatus(t, "clock", c.post("/account/preferences", token, form("iso", "UTC", "25h")), http.StatusUnprocessableEntity)
	})
	u, _ := store.UserByID(t.Context(), f.ts.tenants.Catalog().R, f.member.ID)
	if u.DateFormat != "iso" || u.TimeZone != "UTC" || u.Clock != "24h" {
		t.Fatalf("refused forms changed the preferences: %+v", u)
	}
	t.Run("OK", func(t *testing.T) {
		wantStatus(t, "save", c.post("/account/preferences", token, form("mdy", " America/New_York ", "12h")), http.StatusSeeOther)
		u, _ := store.UserByID(t.Context(), f.ts.tenants.Catalog().R, f.member.ID)
		if u.DateFormat != "mdy" || u.TimeZone != "America/New_York" || u.Clock != "12h" {
			t.Fatalf("saved %+v", u)
		}
		page := c.get("/account").body
		if !strings.Contains(page, `value="mdy" checked`) || !strings.Contains(page, `value="America/New_York"`) || !strings.Contains(page, `<option value="12h" selected>`) {
			t.Errorf("the form does not show the saved choices: %.3000s", page)
		}
	})
}

// One contact's dates, as two members who chose differently see them; the
// exports stay ISO 8601 in UTC whoever asks.
func TestDates_EachUserTheirOwn(t *testing.T) {
	f := newFixture(t)
	cat := f.ts.tenants.Catalog()
	if err := store.SetPreferences(t.Context(), cat, f.admin.ID, store.Preferences{DateFormat: "dmy", TimeZone: "Asia/Kolkata", Clock: "12h"}); err != nil {
		t.Fatal(err)
	}
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	contact, err := store.GetContact(t.Context(), l.DB, f.contact)
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	theirs := contact.CreatedAt.In(kolkata).Format("02/01/2006 3:04 PM MST")
	ours := contact.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")

	owner := f.ts.loggedIn(t, f.owner.Email)
	admin := f.ts.loggedIn(t, f.admin.Email)
	path := "/w/" + f.a + "/contacts/" + f.contact
	if body := owner.get(path).body; !strings.Contains(body, `title="`+ours+`"`) || strings.Contains(body, theirs) {
		t.Errorf("the owner (defaults) does not see %q: %.3000s", ours, body)
	}
	if body := admin.get(path).body; !strings.Contains(body, `title="`+theirs+`"`) || strings.Contains(body, ours) {
		t.Errorf("the admin (day first, Kolkata, 12h) does not see %q: %.3000s", theirs, body)
	}
	// The list shows the same moment each way too.
	if body := admin.get("/w/" + f.a + "/contacts").body; !strings.Contains(body, `title="`+theirs+`"`) {
		t.Errorf("the admin's contact list lacks %q", theirs)
	}

	iso := contact.CreatedAt.UTC().Format("2006-01-02T15:04:05") // RFC 3339 in UTC, to the second or finer
	for _, format := range []string{"csv", "json"} {
		r := admin.get("/w/" + f.a + "/contacts?format=" + format)
		wantStatus(t, format+" export", r, http.StatusOK)
		if !strings.Contains(r.body, iso) || strings.Contains(r.body, contact.CreatedAt.In(kolkata).Format("02/01/2006")) {
			t.Errorf("%s export is not ISO 8601 UTC (%s): %.500s", format, iso, r.body)
		}
	}
}
