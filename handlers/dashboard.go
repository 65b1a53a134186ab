package handlers

import (
	"cmp"
	"html/template"
	"net/http"
	"time"

	"atrium/store"
)

// dashboard is the workspace overview's charts and tables.
type dashboard struct {
	*store.Dashboard
	// Stages are the open deals by stage, each currency on its own row.
	Stages []dashboardStage
	// WonChart draws the won value per month of WonCurrency, the
	// currency most won in; Won lists every month and currency.
	WonChart    template.HTML
	WonCurrency string
	Activity    []dashboardActivity
}

type dashboardStage struct {
	store.StageTotal
	Value string
}

type dashboardActivity struct {
	Name   string
	Writes int64
}

// readDashboard builds the overview of the request's workspace from its
// own file: the open pipeline by stage, won per month over the last
// twelve, tasks due, writes per member this week, this month's emails.
func (s *Server) readDashboard(r *http.Request, members []store.Member) (*dashboard, error) {
	wc := workspaceFrom(r)
	now := time.Now().UTC()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -11, 0)
	d, err := store.ReadDashboard(r.Context(), wc.lease.DB, now, from.Format("2006-01"))
	if err != nil {
		return nil, err
	}
	out := &dashboard{Dashboard: d}
	for _, st := range d.Stages {
		v := ""
		if st.Currency != "" {
			v = store.MoneyText(st.Minor, st.Currency)
		}
		out.Stages = append(out.Stages, dashboardStage{StageTotal: st, Value: v})
	}
	byCurrency := map[string]int64{}
	for _, w := range d.Won {
		byCurrency[w.Currency] += w.Minor
	}
	for c, v := range byCurrency {
		if out.WonCurrency == "" || v > byCurrency[out.WonCurrency] || (v == byCurrency[out.WonCurrency] && c < out.WonCurrency) {
			out.WonCurrency = c
		}
	}
	var labels []string
	var values []int64
	for m := from; !m.After(now); m = m.AddDate(0, 1, 0) {
		label, v := m.Format("2006-01"), int64(0)
		for _, w := range d.Won {
			if w.Month == label && w.Currency == out.WonCurrency {
				v = w.Minor
			}
		}
		labels, values = append(labels, label), append(values, v)
	}
	out.WonChart = barChart(labels, values, "minor units of "+out.WonCurrency+" won")
	names := map[string]string{}
	for _, m := range members {
		names["user:"+m.UserID] = cmp.Or(m.Name, m.Email)
	}
	for _, a := range d.Activity {
		out.Activity = append(out.Activity, dashboardActivity{Name: cmp.Or(names[a.Actor], "a former member"), Writes: a.Writes})
	}
	return out, nil
}
