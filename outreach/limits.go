package outreach

import (
	"fmt"
	"hash/fnv"
	"time"

	"atrium/store"
)

// Usage is what a mailbox sent that its limits count: the messages of its
// current day (in its time zone) and the last one it tried.
type Usage struct {
	Today    int
	Last     time.Time // zero when it never sent
	LastID   string    // the last message's id, which seeds the gap after it
	DayStart time.Time // the start of the mailbox's day the count is of
}

// DayStart is the start of the mailbox's day that holds now.
func DayStart(mb *store.Mailbox, now time.Time) time.Time {
	loc := location(mb)
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func location(mb *store.Mailbox) *time.Location {
	loc, err := time.LoadLocation(mb.TimeZone)
	if err != nil {
		return time.UTC // validated at save; an unknown zone sends in UTC
	}
	return loc
}

// DailyLimit is how many messages the mailbox may send on the day of now:
// its limit, or less while its ramp climbs (ramp × days since the ramp
// started, the first day counting as one).
func DailyLimit(mb *store.Mailbox, now time.Time) int {
	if mb.RampPerDay <= 0 {
		return mb.DailyLimit
	}
	days := int(DayStart(mb, now).Sub(DayStart(mb, mb.RampStart)).Hours()/24) + 1
	return min(mb.DailyLimit, max(1, days)*mb.RampPerDay)
}

// Gap is the pause after the message lastID: a random-looking time between
// the mailbox's shortest and longest gap, fixed by the message id so it
// stays the same across restarts.
func Gap(mb *store.Mailbox, lastID string) time.Duration {
	span := mb.GapMax - mb.GapMin
	if span <= 0 {
		return time.Duration(mb.GapMin) * time.Second
	}
	h := fnv.New32a()
	h.Write([]byte(lastID))
	return time.Duration(mb.GapMin+int(h.Sum32()%uint32(span+1))) * time.Second
}

// NextSlot is the earliest moment from now at which the mailbox may send:
// after the gap that follows its last message, within its window and
// days, and on a day its limit is not reached. ok is false for a paused
// mailbox.
func NextSlot(mb *store.Mailbox, u Usage, now time.Time) (slot time.Time, ok bool) {
	if mb.State != store.MailboxActive {
		return time.Time{}, false
	}
	loc := location(mb)
	t := now
	if !u.Last.IsZero() {
		if after := u.Last.Add(Gap(mb, u.LastID)); after.After(t) {
			t = after
		}
	}
	for range 15 { // two weeks: every day of the week has been tried
		local := t.In(loc)
		y, m, d := local.Date()
		start := atClock(y, m, d, mb.WindowStart, loc)
		end := atClock(y, m, d, mb.WindowEnd, loc)
		sameDay := DayStart(mb, t).Equal(u.DayStart)
		full := sameDay && u.Today >= DailyLimit(mb, t)
		switch {
		case !mb.WindowDays.Has(isoWeekday(local)) || !local.Before(end) || full:
			t = time.Date(y, m, d+1, 0, 0, 0, 0, loc) // try the next day
		case local.Before(start):
			return start, true
		default:
			return t, true
		}
	}
	return time.Time{}, false // no day is allowed: a mailbox with no days
}

func atClock(y int, m time.Month, d int, hhmm string, loc *time.Location) time.Time {
	h, _ := time.Parse("15:04", hhmm)
	return time.Date(y, m, d, h.Hour(), h.Minute(), 0, 0, loc)
}

func isoWeekday(t time.Time) int {
	if wd := int(t.Weekday()); wd != 0 {
		return wd
	}
	return 7
}

// AddWait is when a wait of minutes from t ends. With businessDays, whole
// days count only Monday to Friday, and an end on a weekend moves to the
// Monday after.
func AddWait(t time.Time, minutes int, businessDays bool) time.Time {
	if !businessDays {
		return t.Add(time.Duration(minutes) * time.Minute)
	}
	days, rest := minutes/(24*60), minutes%(24*60)
	for days > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			days--
		}
	}
	t = t.Add(time.Duration(rest) * time.Minute)
	for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// Holdup says why a mailbox cannot send now, in words for its owner: ""
// when it can, or only waits out the gap between two messages (the normal
// pace).
func Holdup(mb *store.Mailbox, u Usage, now time.Time) string {
	if mb.State != store.MailboxActive {
		return "paused"
	}
	if mb.Username != "" && mb.Password == "" {
		return "has no password: enter it on the account's page"
	}
	slot, ok := NextSlot(mb, u, now)
	switch {
	case !ok:
		return "has no sending days"
	case !slot.After(now):
		return ""
	case DayStart(mb, now).Equal(u.DayStart) && u.Today >= DailyLimit(mb, now):
		return fmt.Sprintf("reached its daily limit of %d; sends again %s", DailyLimit(mb, now), slot.In(location(mb)).Format("Mon 15:04 MST"))
	case !u.Last.IsZero() && !slot.After(u.Last.Add(Gap(mb, u.LastID))):
		return "" // the gap
	}
	return "is outside its sending window until " + slot.In(location(mb)).Format("Mon 15:04 MST")
}
