package handlers

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// defaultStatsDays is the period analytics show when none is asked for.
const defaultStatsDays = 30

// statsPeriod reads ?from=&to= as dates (YYYY-MM-DD, UTC; to includes its
// day) or RFC 3339 times (to excluded). Missing: the last 30 days.
func statsPeriod(q url.Values, now time.Time) (from, to time.Time, err error) {
	today := now.UTC().Truncate(24 * time.Hour)
	to = today.AddDate(0, 0, 1)
	if raw := q.Get("to"); raw != "" {
		if to, err = parseBound(raw, true); err != nil {
			return from, to, store.FieldError("to", "to must be a date such as 2026-11-30 or an RFC 3339 time.")
		}
	}
	from = to.AddDate(0, 0, -defaultStatsDays)
	if raw := q.Get("from"); raw != "" {
		if from, err = parseBound(raw, false); err != nil {
			return from, to, store.FieldError("from", "from must be a date such as 2026-11-01 or an RFC 3339 time.")
		}
	}
	if !from.Before(to) {
		return from, to, store.FieldError("from", "from must come before to.")
	}
	return from, to, nil
}

// parseBound parses one end of a period; a date that ends one includes
// its day.
func parseBound(raw string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, raw); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	return t.UTC(), err
}

// apiSequenceStats is GET /api/v1/sequences/{id}/stats?from=&to=.
func (s *Server) apiSequenceStats(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	id, err := recordID(r)
	var seq *store.Sequence
	if err == nil {
		seq, err = store.GetSequence(r.Context(), c.db(), id)
	}
	var from, to time.Time
	if err == nil {
		from, to, err = statsPeriod(r.URL.Query(), time.Now())
	}
	var st *tenant.SequenceStats
	if err == nil {
		st, err = c.svc.SequenceStats(r.Context(), seq, from, to)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// statsPage is a sequence's analytics page.
type statsPage struct {
	Sequence *store.Sequence
	Stats    *tenant.SequenceStats
	From, To string // the period as the form shows it (to inclusive)
	Chart    template.HTML
	Names    map[string]string // template names by step id
}

// sequenceStats shows a sequence's outcomes over a period, per step and
// variant, with a chart of sends and replies per day.
func (s *Server) sequenceStats(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	seq, err := store.GetSequence(ctx, wc.lease.DB, mux.Vars(r)["sequence"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, to, err := statsPeriod(r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := wc.svc.SequenceStats(ctx, seq, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := statsPage{Sequence: seq, Stats: st, From: from.Format(time.DateOnly), To: to.Add(-time.Nanosecond).Format(time.DateOnly),
		Chart: dayChart(st.Days), Names: map[string]string{}}
	for _, step := range seq.Steps {
		if step.TemplateID.Valid {
			if t, err := store.GetTemplate(ctx, wc.lease.DB, step.TemplateID.String); err == nil {
				page.Names[step.ID] = t.Name
			}
		}
	}
	v := s.newView(r, seq.Name+" · Analytics")
	v.Section = "sequences"
	v.Page = page
	s.render(w, r, http.StatusOK, "sequence_stats", v)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 720, 200
	chartPad       = 28
)

// dayChart draws sends (bars) and replies (darker bars inside them) per
// day as an SVG. The numbers are in the table beside it, for screen
// readers and copying; the SVG is hidden from assistive technology.
func dayChart(days []store.DayOutcomes) template.HTML {
	peak := 1
	for _, d := range days {
		peak = max(peak, d.Sent, d.Replied)
	}
	n := max(len(days), 1)
	slot := float64(chartW-2*chartPad) / float64(n)
	bar := max(1, slot*0.7)
	scale := float64(chartH-2*chartPad) / float64(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-hidden="true" focusable="false" preserveAspectRatio="none">`, chartW, chartH)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%d</text>`, 2, chartPad, peak)
	for i, d := range days {
		x := float64(chartPad) + float64(i)*slot + (slot-bar)/2
		for _, s := range []struct {
			class string
			n     int
		}{{"sent", d.Sent}, {"replied", d.Replied}} {
			h := float64(s.n) * scale
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
				s.class, x, float64(chartH-chartPad)-h, bar, h, d.Day, s.n, s.class)
		}
	}
	if len(days) > 0 {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%s</text>`, chartPad, chartH-8, days[0].Day)
		fmt.Fprintf(&b, `<text class="tick end" x="%d" y="%d">%s</text>`, chartW-chartPad, chartH-8, days[len(days)-1].Day)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from numbers and dates only
}

// analyticsPage is the workspace's outreach at a glance: each sequence's
// outcomes over a period.
type analyticsPage struct {
	Rows     []analyticsRow
	Next     string
	From, To string
}

type analyticsRow struct {
	Sequence store.Sequence
	Outcomes *store.SequenceOutcomes
}

// analytics lists the sequences, a page at a time, with their outcomes
// over the period (the last 30 days unless asked).
func (s *Server) analytics(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	from, to, err := statsPeriod(r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, next, err := store.ListSequences(ctx, wc.lease.DB, r.URL.Query().Get("cursor"), store.DefaultLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := analyticsPage{Next: next, From: from.Format(time.DateOnly), To: to.Add(-time.Nanosecond).Format(time.DateOnly)}
	for i := range list { // ListSequences gives each its steps
		out, err := store.SequenceOutcomesOf(ctx, wc.lease.DB, &list[i], from, to)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		page.Rows = append(page.Rows, analyticsRow{Sequence: list[i], Outcomes: out})
	}
	v := s.newView(r, "Analytics")
	v.Section = "analytics"
	v.Page = page
	s.render(w, r, http.StatusOK, "analytics", v)
}
