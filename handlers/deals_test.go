package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atrium/store"
)

// boardTotals reads "stage: totals" of every column from the board page.
func boardTotals(body string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`(?s)<h2>([^<]+) <span class="badge">(\d+)</span></h2>\s*<p class="muted">(.*?)</p>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		totals := regexp.MustCompile(`<span class="total">([^<]+)</span>`).FindAllStringSubmatch(m[3], -1)
		var ts []string
		for _, t := range totals {
			ts = append(ts, t[1])
		}
		out[strings.TrimSpace(m[1])] = m[2] + ": " + strings.Join(ts, ", ")
	}
	return out
}

func TestDealsUI_CreateMoveClose(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	r := c.post(w+"/deals", token, url.Values{"title": {"Renewal"}, "value": {"1,200.10"}, "currency": {"EUR"}})
	wantStatus(t, "value with a thousands separator", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "without thousands separators") {
		t.Error("no clear message for the value")
	}
	wantStatus(t, "unknown contact email", c.post(w+"/deals", token, url.Values{"title": {"Renewal"}, "contact_email": {"nobody@x.example"}}), http.StatusUnprocessableEntity)
	r = c.post(w+"/deals", token, url.Values{"title": {"Renewal"}, "value": {"99.90"}, "currency": {"eur"}, "contact_email": {"ANA@acme.example"}, "status": {"open"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	id := strings.TrimPrefix(page, w+"/deals/")
	body := c.get(page).body
	if !strings.Contains(body, "99.90 EUR") || !strings.Contains(body, "Ana") {
		t.Fatal("the deal page does not show the exact value and the contact")
	}
	if body = c.get(w + "/contacts/" + f.contact).body; !strings.Contains(body, "Renewal") {
		t.Error("the deal is not on the contact's timeline")
	}
	totals := boardTotals(c.get(w + "/deals").body)
	if totals["Lead in"] != "2: 1,300.00 EUR" {
		t.Fatalf("board totals before the move: %v", totals)
	}
	p, _ := pipelineOf(t, f, f.a)
	wantStatus(t, "move", c.post(w+"/deals/"+id+"/move", token, url.Values{"stage_id": {p.Stages[3].ID}}), http.StatusSeeOther)
	totals = boardTotals(c.get(w + "/deals").body)
	if totals["Lead in"] != "1: 1,200.10 EUR" || totals["Negotiation"] != "1: 99.90 EUR" {
		t.Fatalf("board totals after the move: %v", totals)
	}
	other := c.post(w+"/settings/pipelines", c.workspaceToken(f.a), url.Values{"name": {"Partners"}})
	wantStatus(t, "member adds a pipeline", other, http.StatusForbidden)
	wantStatus(t, "mark lost", c.post(page, token, url.Values{"title": {"Renewal"}, "value": {"99.90"}, "currency": {"EUR"}, "stage_id": {p.Stages[3].ID}, "status": {"lost"}, "lost_reason": {"Went elsewhere"}}), http.StatusSeeOther)
	if body = c.get(page).body; !strings.Contains(body, "Went elsewhere") {
		t.Error("the lost reason is not shown")
	}
	if body = c.get(w + "/deals").body; !strings.Contains(body, "Lost: 99.90 EUR") {
		t.Error("the board does not count the lost deal")
	}
	if body = c.get(w + "/deals?view=table&status=lost").body; !strings.Contains(body, "Renewal") || strings.Contains(body, "Big sale") {
		t.Error("the table's status filter does not work")
	}
}

func pipelineOf(t *testing.T, f *fixture, ws string) (*store.Pipeline, error) {
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	ps, err := store.Pipelines(t.Context(), l.DB)
	if err != nil {
		t.Fatal(err)
	}
	return &ps[0], nil
}

func TestPipelinesUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a + "/settings"
	p, _ := pipelineOf(t, f, f.a)
	wantStatus(t, "add stage", c.post(w+"/pipelines/"+p.ID+"/stages", token, url.Values{"name": {"Contract"}, "probability": {"95"}}), http.StatusSeeOther)
	wantStatus(t, "bad probability", c.post(w+"/pipelines/"+p.ID+"/stages", token, url.Values{"name": {"X"}, "probability": {"150"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "rename stage", c.post(w+"/stages/"+p.Stages[1].ID, token, url.Values{"name": {"Discovery"}, "probability": {"30"}}), http.StatusSeeOther)
	wantStatus(t, "move stage up", c.post(w+"/stages/"+p.Stages[1].ID+"/move", token, url.Values{"direction": {"up"}}), http.StatusSeeOther)
	r := c.post(w+"/stages/"+f.stage+"/delete", token, nil)
	wantStatus(t, "delete a stage with deals and no target", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "1 deal is in Lead in; choose the stage it moves to") {
		t.Error("no explanation when a stage with deals is deleted")
	}
	wantStatus(t, "delete with a target", c.post(w+"/stages/"+f.stage+"/delete", token, url.Values{"move_to": {p.Stages[2].ID}}), http.StatusSeeOther)
	after, _ := pipelineOf(t, f, f.a)
	var names []string
	for _, s := range after.Stages {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "Discovery,Proposal,Negotiation,Closing,Contract" {
		t.Fatalf("stages now %v", names)
	}
	wantStatus(t, "rename pipeline", c.post(w+"/pipelines/"+p.ID, token, url.Values{"name": {"New business"}}), http.StatusSeeOther)
	wantStatus(t, "delete the last pipeline", c.post(w+"/pipelines/"+p.ID+"/delete", token, nil), http.StatusConflict)
}

// TestDealsUI_OtherWorkspacesRecords uses deal, pipeline and stage ids of
// workspace B in workspace A: 404, or 422 where the id is a field value.
func TestDealsUI_OtherWorkspacesRecords(t *testing.T) {
	f := newFixture(t)
	l, _ := f.ts.tenants.Acquire(t.Context(), f.b)
	title := "B's deal"
	d, err := store.CreateDeal(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.DealInput{Title: &title})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	wantStatus(t, "view", c.get(w+"/deals/"+d.ID), http.StatusNotFound)
	wantStatus(t, "edit", c.get(w+"/deals/"+d.ID+"/edit"), http.StatusNotFound)
	wantStatus(t, "update", c.post(w+"/deals/"+d.ID, token, url.Values{"title": {"x"}}), http.StatusNotFound)
	wantStatus(t, "move", c.post(w+"/deals/"+d.ID+"/move", token, url.Values{"stage_id": {f.stage}}), http.StatusNotFound)
	wantStatus(t, "delete", c.post(w+"/deals/"+d.ID+"/delete", token, nil), http.StatusNotFound)
	wantStatus(t, "board of B's pipeline", c.get(w+"/deals?pipeline="+d.PipelineID), http.StatusNotFound)
	wantStatus(t, "A's deal into B's stage", c.post(w+"/deals/"+f.deal+"/move", token, url.Values{"stage_id": {d.StageID}}), http.StatusUnprocessableEntity)
	wantStatus(t, "new deal in B's stage", c.post(w+"/deals", token, url.Values{"title": {"x"}, "stage_id": {d.StageID}}), http.StatusUnprocessableEntity)
	wantStatus(t, "rename B's pipeline", c.post(w+"/settings/pipelines/"+d.PipelineID, token, url.Values{"name": {"x"}}), http.StatusNotFound)
	wantStatus(t, "add stage to B's pipeline", c.post(w+"/settings/pipelines/"+d.PipelineID+"/stages", token, url.Values{"name": {"x"}, "probability": {"5"}}), http.StatusNotFound)
	wantStatus(t, "edit B's stage", c.post(w+"/settings/stages/"+d.StageID, token, url.Values{"name": {"x"}, "probability": {"5"}}), http.StatusNotFound)
	wantStatus(t, "delete B's stage", c.post(w+"/settings/stages/"+d.StageID+"/delete", token, nil), http.StatusNotFound)
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	defer l.Release()
	got, err := store.GetDeal(t.Context(), l.DB, d.ID)
	if err != nil || got.Title != title || got.StageID != d.StageID {
		t.Fatalf("B's deal changed: %+v %v", got, err)
	}
	if events, _, _ := store.ListAudit(t.Context(), l.DB, store.AuditFilter{EntityType: "stage"}); len(events) != 0 {
		t.Fatalf("B's stages changed: %d events", len(events))
	}
}

// TestBrowser_DragDealToAnotherStage drags a card on the board and sees the
// column totals change.
func TestBrowser_DragDealToAnotherStage(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	run(t, b, "sign in", chromedp.Navigate(f.ts.URL+"/login"), chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": f.member.Email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	p, _ := pipelineOf(t, f, f.a)
	target := p.Stages[2]
	// Chromium's headless mode does not synthesise HTML5 drag events from
	// mouse input, so the test dispatches the same events a drag fires.
	drag := `(() => {
		const card = document.querySelector('.deal-card[data-deal="` + f.deal + `"]');
		const col = document.querySelector('.column[data-stage="` + target.ID + `"]');
		const dt = new DataTransfer();
		card.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
		col.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt}));
		col.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
		return true;
	})()`
	run(t, b, "open the board", chromedp.Navigate(f.ts.URL+"/w/"+f.a+"/deals"), chromedp.WaitVisible(chromedp.CSS(".board")))
	before := read(t, b, "totals", chromedp.Text(chromedp.CSS(`.column[data-stage="`+target.ID+`"] .column-head`)))
	if strings.Contains(before, "1,200.10 EUR") {
		t.Fatalf("the target column has the deal already: %q", before)
	}
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](drag)); err != nil {
		t.Fatal(err)
	}
	run(t, b, "board after the drop", chromedp.WaitVisible(chromedp.CSS(`.column[data-stage="`+target.ID+`"] .deal-card`)))
	after := read(t, b, "totals", chromedp.Text(chromedp.CSS(`.column[data-stage="`+target.ID+`"] .column-head`)))
	if !strings.Contains(after, "1,200.10 EUR") || !strings.Contains(after, "1") {
		t.Fatalf("the target column after the drop: %q", after)
	}
	first := read(t, b, "first column", chromedp.Text(chromedp.CSS(`.column[data-stage="`+p.Stages[0].ID+`"] .column-head`)))
	if strings.Contains(first, "1,200.10") {
		t.Fatalf("the first column still counts the deal: %q", first)
	}
}

// "Mark won" and "Mark lost" send the status alone: what someone else
// changed after the page was loaded stays.
func TestDealsUI_CloseKeepsOthersChanges(t *testing.T) {
	for _, status := range []string{"won", "lost"} {
		t.Run(status, func(t *testing.T) {
			f := newFixture(t)
			c := f.ts.loggedIn(t, f.member.Email)
			w := "/w/" + f.a
			r := c.post(w+"/deals", c.workspaceToken(f.a), url.Values{"title": {"Renewal"}, "value": {"99.90"}, "currency": {"EUR"}})
			wantStatus(t, "create", r, http.StatusSeeOther)
			page := r.header.Get("Location")
			id := strings.TrimPrefix(page, w+"/deals/")
			action, values := formOf(t, c.get(page).body, "Mark "+status)
			// Meanwhile someone else edits the deal.
			l, err := f.ts.tenants.Acquire(t.Context(), f.a)
			if err != nil {
				t.Fatal(err)
			}
			_, err = store.UpdateDeal(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, id,
				store.DealInput{Title: s("Renewal 2027"), Value: s("150.00"), ExpectedClose: s("2027-01-31")})
			l.Release()
			if err != nil {
				t.Fatal(err)
			}
			values.Set("lost_reason", "Went elsewhere")
			wantStatus(t, "mark "+status, c.post(action, values.Get("csrf_token"), values), http.StatusSeeOther)
			l, _ = f.ts.tenants.Acquire(t.Context(), f.a)
			d, err := store.GetDeal(t.Context(), l.DB, id)
			l.Release()
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != status || d.Title != "Renewal 2027" || d.Value != "150.00" || d.ExpectedClose != "2027-01-31" {
				t.Fatalf("after marking %s: %+v", status, d)
			}
		})
	}
}

// formOf returns the action and the fields of the form on page whose
// submit button says button, as a browser would send them.
func formOf(tb testing.TB, page, button string) (string, url.Values) {
	tb.Helper()
	end := strings.Index(page, ">"+button+"</button>")
	if end < 0 {
		tb.Fatalf("no %q button on the page", button)
	}
	start := strings.LastIndex(page[:end], "<form ")
	form := page[start:end]
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(form)[1]
	values := url.Values{}
	for _, m := range regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`).FindAllStringSubmatch(form, -1) {
		values.Set(m[1], html.UnescapeString(m[2]))
	}
	return html.UnescapeString(action), values
}

func TestDealsUI_MoneyGrouped(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	r := c.post(w+"/deals", token, url.Values{"title": {"Tokyo fleet"}, "value": {"1234567"}, "currency": {"JPY"}, "contact_id": {f.contact}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	for name, body := range map[string]string{
		"deal page":    c.get(page).body,
		"board":        c.get(w + "/deals").body,
		"table":        c.get(w + "/deals?view=table").body,
		"contact page": c.get(w + "/contacts/" + f.contact).body,
		"dashboard":    c.get(w + "/").body,
	} {
		if !strings.Contains(body, "1,234,567 JPY") {
			t.Errorf("%s does not show 1,234,567 JPY", name)
		}
	}
	if body := c.get(w + "/deals").body; !strings.Contains(body, "1,200.10 EUR") {
		t.Error("the board does not group the fixture's EUR deal")
	}
	// The edit form's input stays what the parser takes, and saving it
	// unchanged keeps the value.
	action, vals := formOf(t, c.get(page+"/edit").body, "Save changes")
	if vals.Get("value") != "1234567" {
		t.Fatalf("edit form value = %q", vals.Get("value"))
	}
	if !strings.HasSuffix(action, page) && !strings.Contains(action, "/deals/") {
		t.Fatalf("edit form action = %q", action)
	}
}
