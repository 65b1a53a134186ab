package store

import (
	"context"
	"strings"
	"sync"
	"time"
)

// DateFormat is one way of writing a date a user can choose: Layout is
// Go's reference layout, Example the way it writes 30 November 2026.
type DateFormat struct {
	Key, Layout, Example string
}

// DateFormats are the date formats a user can choose, the default first.
var DateFormats = []DateFormat{
	{"iso", "2006-01-02", "2026-11-30"},
	{"dmy", "02/01/2006", "30/11/2026"},
	{"mdy", "01/02/2006", "11/30/2026"},
	{"d_mon_y", "2 Jan 2006", "30 Nov 2026"},
}

// DefaultDateFormat is the date format of a user who chose none: ISO 8601.
const DefaultDateFormat = "iso"

// The two clocks a user can choose.
const (
	Clock24h = "24h"
	Clock12h = "12h"
)

// DateLayout returns the layout of a date format key; an unknown key gets
// the default's.
func DateLayout(key string) string {
	for _, f := range DateFormats {
		if f.Key == key {
			return f.Layout
		}
	}
	return DateFormats[0].Layout
}

// Preferences are how a user has dates shown.
type Preferences struct {
	DateFormat string
	TimeZone   string
	Clock      string
}

// locations caches time zones by name: time.LoadLocation reads the zone
// database from disk at every call, and each page asks for its user's.
var locations sync.Map // name → *time.Location

// Location returns the time zone of an IANA name such as Europe/Paris. ""
// and "Local" are refused: the server's own zone means nothing to a user.
func Location(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, FieldError("time_zone", "%q is not a time zone; use a name such as Europe/Paris, America/New_York or UTC.", name)
	}
	locations.Store(name, loc)
	return loc, nil
}

// SetPreferences validates and saves how a user has dates shown.
func SetPreferences(ctx context.Context, db *Catalog, userID string, p Preferences) error {
	p.TimeZone = strings.TrimSpace(p.TimeZone)
	known := false
	for _, f := range DateFormats {
		known = known || f.Key == p.DateFormat
	}
	if !known {
		return FieldError("date_format", "Choose one of the date formats shown.")
	}
	if _, err := Location(p.TimeZone); err != nil {
		return err
	}
	if p.Clock != Clock24h && p.Clock != Clock12h {
		return FieldError("clock", "Choose a 24-hour or a 12-hour clock.")
	}
	res, err := db.W.ExecContext(ctx, `UPDATE users SET date_format = ?, time_zone = ?, clock = ? WHERE id = ?`, p.DateFormat, p.TimeZone, p.Clock, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Errorf(ENotFound, "No such user.")
	}
	return nil
}
