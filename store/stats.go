package store

import (
	"context"
	"time"
)

// Outcomes are the unique counts of what a sequence's messages did: each
// message counts at most once in each (two opens of one message are one
// opened).
type Outcomes struct {
	Enrolled     int `json:"enrolled"`
	Sent         int `json:"sent"`
	Delivered    int `json:"delivered"`
	Opened       int `json:"opened"`
	Clicked      int `json:"clicked"`
	Replied      int `json:"replied"`
	Bounced      int `json:"bounced"`
	Unsubscribed int `json:"unsubscribed"`
}

// Rates are outcomes the usual way: bounces on sends, everything else on
// deliveries. A rate with nothing under it is 0.
type Rates struct {
	Open        float64 `json:"open_rate"`
	Click       float64 `json:"click_rate"`
	Reply       float64 `json:"reply_rate"`
	Bounce      float64 `json:"bounce_rate"`
	Unsubscribe float64 `json:"unsubscribe_rate"`
}

// Rates computes the outcomes' rates.
func (o Outcomes) Rates() Rates {
	return Rates{Open: share(o.Opened, o.Delivered), Click: share(o.Clicked, o.Delivered), Reply: share(o.Replied, o.Delivered),
		Bounce: share(o.Bounced, o.Sent), Unsubscribe: share(o.Unsubscribed, o.Delivered)}
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// StepOutcomes are the outcomes of one email step, or of one of its A/B
// variants.
type StepOutcomes struct {
	StepID   string `json:"step_id"`
	Position int    `json:"position"` // 1 for the first step
	Variant  string `json:"variant,omitempty"`
	Outcomes        // enrolled stays 0: people enrol in sequences, not steps
	Rates    `json:"rates"`
}

// DayOutcomes are one UTC day's sends and replies, for the chart.
type DayOutcomes struct {
	Day     string `json:"day"` // YYYY-MM-DD
	Sent    int    `json:"sent"`
	Replied int    `json:"replied"`
}

// SequenceOutcomes are a sequence's outcomes over a period [From, To).
type SequenceOutcomes struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Total    Outcomes       `json:"total"`
	Rates    Rates          `json:"rates"`
	Steps    []StepOutcomes `json:"steps"`
	Variants []StepOutcomes `json:"variants"`
	Days     []DayOutcomes  `json:"days"`
}

// outcomeRow is one (step, variant)'s counts as the query gives them.
type outcomeRow struct {
	StepID  string `db:"step_id"`
	Variant string `db:"variant"`
	Outcomes
}

// sentInPeriod is the messages of a sequence sent in the period: the rows
// every outcome counts from. Bounced rows were sent.
const sentInPeriod = `FROM messages m WHERE m.sequence_id = ? AND m.state IN ('sent', 'bounced') AND m.sent_at >= ? AND m.sent_at < ?`

// outcomesSQL counts, per step and variant, the messages sent in the
// period and what became of them. An unsubscribe counts for the last
// message the person got before it.
const outcomesSQL = `SELECT m.step_id, m.variant,
	count(*) AS sent,
	sum(m.state = 'bounced') AS bounced,
	sum(` + openedSQL + `) AS opened,
	sum(` + clickedSQL + `) AS clicked,
	sum(` + repliedSQL + `) AS replied,
	sum(EXISTS (SELECT 1 FROM suppressions s WHERE s.reason = 'unsubscribed' AND s.email = lower(m.to_email) AND s.created_at >= m.sent_at
		AND NOT EXISTS (SELECT 1 FROM messages m2 WHERE m2.enrollment_id = m.enrollment_id AND m2.state IN ('sent', 'bounced')
			AND m2.sent_at > m.sent_at AND m2.sent_at <= s.created_at))) AS unsubscribed
	` + sentInPeriod + ` GROUP BY m.step_id, m.variant`

// What a message led to, as SQL on the row m: a person's open or click (a
// mail proxy's prefetch is not one), a person's reply (an automatic answer
// is not one).
const (
	openedSQL  = `EXISTS (SELECT 1 FROM tracking_events t WHERE t.message_id = m.id AND t.kind = 'open' AND t.prefetch = 0)`
	clickedSQL = `EXISTS (SELECT 1 FROM tracking_events t WHERE t.message_id = m.id AND t.kind = 'click' AND t.prefetch = 0)`
	repliedSQL = `EXISTS (SELECT 1 FROM replies r WHERE r.message_id = m.id AND r.kind = 'reply')`
)

// SequenceOutcomesOf counts a sequence's outcomes over [from, to): the
// messages sent in it and what became of them (whenever that was), and the
// enrollments made in it.
func SequenceOutcomesOf(ctx context.Context, db *DB, seq *Sequence, from, to time.Time) (*SequenceOutcomes, error) {
	from, to = from.UTC(), to.UTC()
	out := &SequenceOutcomes{From: from, To: to, Steps: []StepOutcomes{}, Variants: []StepOutcomes{}, Days: []DayOutcomes{}}
	var rows []outcomeRow
	if err := db.R.SelectContext(ctx, &rows, outcomesSQL, seq.ID, from, to); err != nil {
		return nil, err
	}
	if err := db.R.GetContext(ctx, &out.Total.Enrolled, `SELECT count(*) FROM enrollments WHERE sequence_id = ? AND created_at >= ? AND created_at < ?`,
		seq.ID, from, to); err != nil {
		return nil, err
	}
	byStep := map[string]*Outcomes{}
	for i := range rows {
		r := &rows[i]
		r.Delivered = r.Sent - r.Bounced
		if byStep[r.StepID] == nil {
			byStep[r.StepID] = &Outcomes{}
		}
		byStep[r.StepID].add(r.Outcomes)
		out.Total.add(r.Outcomes)
	}
	position := 0
	for _, st := range seq.Steps {
		if st.Kind != StepEmail {
			continue
		}
		position++
		o := byStep[st.ID]
		if o == nil {
			o = &Outcomes{}
		}
		out.Steps = append(out.Steps, StepOutcomes{StepID: st.ID, Position: position, Outcomes: *o, Rates: o.Rates()})
		if !st.VariantID.Valid {
			continue
		}
		for _, r := range rows {
			if r.StepID == st.ID {
				out.Variants = append(out.Variants, StepOutcomes{StepID: st.ID, Position: position, Variant: r.Variant, Outcomes: r.Outcomes, Rates: r.Rates()})
			}
		}
	}
	out.Rates = out.Total.Rates()
	var err error
	out.Days, err = dayOutcomes(ctx, db, seq.ID, from, to)
	return out, err
}

func (o *Outcomes) add(p Outcomes) {
	o.Sent += p.Sent
	o.Delivered += p.Delivered
	o.Opened += p.Opened
	o.Clicked += p.Clicked
	o.Replied += p.Replied
	o.Bounced += p.Bounced
	o.Unsubscribed += p.Unsubscribed
}

// maxChartDays bounds the days of a chart: a longer period is cut to its
// last days.
const maxChartDays = 366

// dayOutcomes are the sends and the replies received of each UTC day of
// the period, days without any included.
func dayOutcomes(ctx context.Context, db *DB, sequenceID string, from, to time.Time) ([]DayOutcomes, error) {
	var rows []DayOutcomes
	err := db.R.SelectContext(ctx, &rows, `SELECT day, sum(sent) AS sent, sum(replied) AS replied FROM (
		SELECT substr(m.sent_at, 1, 10) AS day, 1 AS sent, 0 AS replied `+sentInPeriod+`
		UNION ALL
		SELECT substr(r.received_at, 1, 10), 0, 1 FROM replies r
		WHERE r.sequence_id = ? AND r.kind = 'reply' AND r.received_at >= ? AND r.received_at < ?)
		GROUP BY day`, sequenceID, from, to, sequenceID, from, to)
	if err != nil {
		return nil, err
	}
	counts := make(map[string]DayOutcomes, len(rows))
	for _, r := range rows {
		counts[r.Day] = r
	}
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	if first := to.AddDate(0, 0, -maxChartDays); start.Before(first) {
		start = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	}
	days := []DayOutcomes{}
	for d := start; d.Before(to); d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		day := counts[key]
		day.Day = key
		days = append(days, day)
	}
	return days, nil
}

// ActiveEnrollmentsByMailbox counts a sequence's active enrollments by the
// mailbox they send from.
func ActiveEnrollmentsByMailbox(ctx context.Context, db *DB, sequenceID string) (map[string]int, error) {
	var rows []struct {
		MailboxID string `db:"mailbox_id"`
		N         int    `db:"n"`
	}
	if err := db.R.SelectContext(ctx, &rows, `SELECT mailbox_id, count(*) AS n FROM enrollments WHERE sequence_id = ? AND state = 'active'
		GROUP BY mailbox_id ORDER BY mailbox_id`, sequenceID); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.MailboxID] = r.N
	}
	return out, nil
}
