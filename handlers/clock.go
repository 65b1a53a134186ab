package handlers

import (
	"fmt"
	"strings"
	"time"

	"atrium/store"
)

// clock writes times for one user: in their time zone, date format and
// clock (their account preferences). Every page's view carries the
// signed-in user's (view.Clock), and templates print every moment through
// it ({{$.Clock.DateTime .CreatedAt}}); partials whose data is not the view
// are handed it. Exports and the API keep ISO 8601 in UTC: they are for
// programs.
type clock struct {
	loc  *time.Location
	date string // the date layout
	hm   string // the time-of-day layout
}

// utcClock is the clock of a page without a user: ISO dates, UTC, 24h.
var utcClock = clock{loc: time.UTC, date: store.DateLayout(store.DefaultDateFormat), hm: "15:04"}

// clockOf is the clock of a user (utcClock for none).
func clockOf(u *store.User) clock {
	if u == nil {
		return utcClock
	}
	c := clock{loc: time.UTC, date: store.DateLayout(u.DateFormat), hm: "15:04"}
	if loc, err := store.Location(u.TimeZone); err == nil {
		c.loc = loc
	}
	if u.Clock == store.Clock12h {
		c.hm = "3:04 PM"
	}
	return c
}

// DateTime is a moment's date and time of day, with the zone's
// abbreviation: "30/11/2026 14:05 CET".
func (c clock) DateTime(t time.Time) string {
	return t.In(c.loc).Format(c.date + " " + c.hm + " MST")
}

// Seconds is DateTime to the second, for a moment picked to the second
// (a restore's).
func (c clock) Seconds(t time.Time) string {
	hms := strings.Replace(c.hm, "04", "04:05", 1)
	return t.In(c.loc).Format(c.date + " " + hms + " MST")
}

// Date is a moment's date in the user's zone.
func (c clock) Date(t time.Time) string { return t.In(c.loc).Format(c.date) }

// Day writes a calendar day kept as YYYY-MM-DD (a task's due day: a day,
// not a moment, so no zone applies) in the user's date format; anything
// else is shown as it is.
func (c clock) Day(day string) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return d.Format(c.date)
}

// Ago says how long ago t was, coarsely, as people say it; past a month,
// its date.
func (c clock) Ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%d d ago", int(d.Hours()/24))
	}
	return c.Date(t)
}
