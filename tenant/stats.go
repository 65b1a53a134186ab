package tenant

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"atrium/outreach"
	"atrium/store"
)

// SequenceStats is a sequence's analytics over a period, and why any of
// its enrollments are not sending now.
type SequenceStats struct {
	*store.SequenceOutcomes
	Holdups []Holdup `json:"holdups"`
}

// Holdup is a reason steps wait, and how many enrollments it holds.
type Holdup struct {
	Reason      string `json:"reason"`
	Enrollments int    `json:"enrollments"`
}

// SequenceStats counts a sequence's outcomes over [from, to) and says what
// holds its active enrollments back now: a sequence that does not send is
// never shown as simply running.
func (s *Service) SequenceStats(ctx context.Context, seq *store.Sequence, from, to time.Time) (*SequenceStats, error) {
	out, err := store.SequenceOutcomesOf(ctx, s.lease.DB, seq, from, to)
	if err != nil {
		return nil, err
	}
	st := &SequenceStats{SequenceOutcomes: out, Holdups: []Holdup{}}
	st.Holdups, err = s.holdups(ctx, seq)
	return st, err
}

func (s *Service) holdups(ctx context.Context, seq *store.Sequence) ([]Holdup, error) {
	db := s.lease.DB
	waiting, err := store.ActiveEnrollmentsByMailbox(ctx, db, seq.ID)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, n := range waiting {
		total += n
	}
	holdups := []Holdup{}
	if unknown, err := store.MessageCounts(ctx, db, seq.ID); err != nil {
		return nil, err
	} else if n := unknown[store.MessageUnknown]; n > 0 {
		what := fmt.Sprintf("%d messages of unknown delivery wait", n)
		if n == 1 {
			what = "1 message of unknown delivery waits"
		}
		holdups = append(holdups, Holdup{Reason: what + " for a person to settle them (retry or skip)", Enrollments: n})
	}
	if total == 0 {
		return holdups, nil
	}
	if seq.State != store.SequenceActive {
		why := "The sequence is " + seq.State + ": nothing is sent until it is activated"
		if seq.PausedReason != "" {
			why = "The sequence was paused by " + seq.PausedReason
		}
		return append(holdups, Holdup{Reason: why, Enrollments: total}), nil
	}
	now := s.m.now()
	if until, err := s.SendingAllowed(ctx); err != nil {
		return nil, err
	} else if !until.IsZero() {
		holdups = append(holdups, Holdup{Reason: "The workspace has sent its plan's emails for today; sending resumes at midnight UTC", Enrollments: total})
	}
	for _, mailboxID := range slices.Sorted(maps.Keys(waiting)) {
		n := waiting[mailboxID]
		mb, err := store.GetMailbox(ctx, db, mailboxID)
		if err != nil {
			return nil, err
		}
		count, last, err := store.MailboxUsage(ctx, db, mb.ID, outreach.DayStart(mb, now))
		if err != nil {
			return nil, err
		}
		u := outreach.Usage{Today: count, DayStart: outreach.DayStart(mb, now)}
		if last != nil {
			u.Last, u.LastID = last.UpdatedAt, last.ID
		}
		why := outreach.Holdup(mb, u, now)
		if mb.State != store.MailboxActive && mb.PausedReason != "" {
			why = "was paused by " + mb.PausedReason
		}
		if why == "" && mb.Failures > 0 && mb.LastError != "" {
			why = "failed its last conversation: " + mb.LastError
		}
		if why != "" {
			holdups = append(holdups, Holdup{Reason: "Mailbox " + mb.Name + " " + why, Enrollments: n})
		}
	}
	return holdups, nil
}
