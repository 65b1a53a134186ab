package handlers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atrium/store"

	"github.com/chromedp/chromedp"
)

// overflowJS reports a page wider than the window: the document's scroll
// width, and the element reaching furthest right that no scrolling or
// clipping container holds (the outermost one, and the innermost one that
// reaches as far), or "" when the page fits.
const overflowJS = `(() => {
  const vw = window.innerWidth, sw = document.documentElement.scrollWidth;
  if (sw <= vw) return "";
  const held = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return p.getBoundingClientRect().right <= vw + 1;
    }
    return false;
  };
  let outer = null, inner = null, right = 0;
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= vw + 1 || held(el)) continue;
    if (r.right > right + 0.5) { outer = el; inner = el; right = r.right; }
    else if (r.right >= right - 0.5 && outer.contains(el)) inner = el;
  }
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].join(".");
    return s;
  };
  const text = (el) => el.textContent.trim().replace(/\s+/g, " ").slice(0, 60);
  if (!outer) {
    const all = [...document.body.querySelectorAll("*")].filter(el => el.getBoundingClientRect().right > vw + 1).map(el => name(el) + "@" + Math.round(el.getBoundingClientRect().right));
    return "scroll width " + sw + " px > " + vw + " px, no single element reaches past the window (" + all.slice(0, 8).join(", ") + ")";
  }
  let msg = "scroll width " + sw + " px > " + vw + " px; widest element " + name(outer) + " (" + Math.round(outer.getBoundingClientRect().width) + " px wide, to " + Math.round(right) + " px): \"" + text(outer) + "\"";
  if (inner !== outer) msg += "; innermost " + name(inner) + ": \"" + text(inner) + "\"";
  return msg;
})()`

// sidewaysJS lists the tables that scroll sideways in their own box: on a
// narrow screen a list shows its rows as cards instead.
const sidewaysJS = `[...document.querySelectorAll(".table-wrap")].filter(w => w.scrollWidth > w.clientWidth + 1).
  map(w => (w.querySelector("caption, th") || w).textContent.trim().replace(/\s+/g, " ").slice(0, 40) + " (" + w.scrollWidth + " px in " + w.clientWidth + " px)").join("; ")`

// layoutPage is one page the layout test visits.
type layoutPage struct {
	name, path string
	h1         string // when set, the page's heading must be this
	shot       bool   // a main page, photographed with ATRIUM_SHOTS
}

// TestBrowser_NoHorizontalOverflow renders every main page of a workspace
// full of long names, long emails, a nine-stage board and custom fields at
// 390 px wide, and fails on any page wider than the window, naming the
// page and the element that sticks out. With ATRIUM_SHOTS=dir it also
// saves screenshots of each page at 390 and 1400 px there.
func TestBrowser_NoHorizontalOverflow(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	d := seedLayout(t, f)
	a := "/w/" + f.a
	u, err := store.UserByEmail(t.Context(), f.ts.tenants.Catalog().R, d.email)
	if err != nil {
		t.Fatal(err)
	}
	resetToken, err := store.CreatePasswordReset(t.Context(), f.ts.tenants.Catalog(), u.ID, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pages := []layoutPage{
		{shot: true, name: "home", path: "/"},
		{shot: true, name: "account", path: "/account"},
		{shot: true, name: "console (admin)", path: "/admin"},
		{shot: true, name: "console", path: "/console"},
		{name: "console portfolio", path: "/console/portfolio"},
		{name: "console usage", path: "/console/usage"},
		{name: "console workspace usage", path: "/console/usage/" + f.a},
		{shot: true, name: "my tasks", path: "/my-tasks"},
		{shot: true, name: "dashboard", path: a + "/"},
		{shot: true, name: "contacts", path: a + "/contacts"},
		{name: "contacts filtered", path: a + "/contacts?q=Maximilian"},
		{name: "contacts, every column", path: a + "/contacts?cols=email,phone,company,stage,owner,tags,created,updated,custom.qbr_channel"},
		{name: "contacts, last page", path: a + "/contacts?page=last"},
		{name: "contacts bulk job", path: a + "/contacts/bulk/" + f.bulkJob},
		{shot: true, name: "contact detail", path: a + "/contacts/" + d.contact},
		{name: "contact edit", path: a + "/contacts/" + d.contact + "/edit"},
		{name: "contact new", path: a + "/contacts/new"},
		{name: "contact delete", path: a + "/contacts/" + d.contact + "/delete"},
		{name: "contact merge picker", path: a + "/contacts/" + d.contact + "/merge?q=a"},
		{shot: true, name: "contact merge preview", path: a + "/contacts/" + d.contact + "/merge?with=" + f.contact},
		{shot: true, name: "companies", path: a + "/companies"},
		{shot: true, name: "company detail", path: a + "/companies/" + d.company},
		{name: "company edit", path: a + "/companies/" + d.company + "/edit"},
		{shot: true, name: "deals board", path: a + "/deals?pipeline=" + d.pipeline},
		{name: "deals board (default pipeline)", path: a + "/deals"},
		{shot: true, name: "deals table", path: a + "/deals?view=table&pipeline=" + d.pipeline},
		{shot: true, name: "deal detail", path: a + "/deals/" + d.deal},
		{name: "deal edit", path: a + "/deals/" + d.deal + "/edit"},
		{name: "deal new", path: a + "/deals/new"},
		{shot: true, name: "search", path: a + "/search?q=M%C3%BCller"},
		{name: "search, nothing found", path: a + "/search?q=zzzzzz"},
		{shot: true, name: "sequences", path: a + "/sequences"},
		{shot: true, name: "sequence", path: a + "/sequences/" + f.sequence},
		{name: "sequence stats", path: a + "/sequences/" + f.sequence + "/stats"},
		{shot: true, name: "templates", path: a + "/templates"},
		{name: "template", path: a + "/templates/" + f.template},
		{name: "template new", path: a + "/templates/new"},
		{shot: true, name: "email accounts", path: a + "/email-accounts"},
		{name: "email account", path: a + "/email-accounts/" + f.mailbox},
		{name: "email account edit", path: a + "/email-accounts/" + f.mailbox + "/edit"},
		{shot: true, name: "inbox", path: a + "/inbox"},
		{shot: true, name: "analytics", path: a + "/analytics"},
		{name: "suppressions", path: a + "/suppressions"},
		{shot: true, name: "settings", path: a + "/settings?window=1"},
		{shot: true, name: "members", path: a + "/members"},
		{shot: true, name: "API keys", path: a + "/settings/api-keys"},
		{shot: true, name: "pipelines settings", path: a + "/settings/pipelines"},
		{shot: true, name: "custom fields", path: a + "/settings/fields"},
		{shot: true, name: "audit log", path: a + "/audit"},
		{shot: true, name: "contacts import", path: a + "/contacts/import"},
		{shot: true, name: "contacts import job", path: a + "/contacts/import/" + f.job},
		{name: "companies import", path: a + "/companies/import"},
		{name: "companies import job", path: a + "/companies/import/" + f.companiesJob},
		{name: "deals import job", path: a + "/deals/import/" + f.dealsJob},
		{shot: true, name: "not found", path: "/no/such/page", h1: "Page not found"},
		{name: "record not found", path: a + "/contacts/00000000-0000-0000-0000-000000000000", h1: "Page not found"},
		{shot: true, name: "forbidden", path: "/w/" + d.viewerWorkspace + "/audit", h1: "You do not have access"},
		{shot: true, name: "trashed workspace", path: "/w/" + d.trashed + "/", h1: "This workspace is in the trash"},
		{name: "forgot password", path: "/login/forgot", h1: "Reset your password"},
		{name: "password reset link", path: "/reset/" + resetToken, h1: "Choose a new password"},
		{name: "password reset link, used or unknown", path: "/reset/nope", h1: "Choose a new password"},
	}

	signedIn := func() context.Context {
		b := newBrowser(t)
		run(t, b, "sign in",
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(f.ts.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("f-email")),
			fill(map[string]string{"f-email": d.email, "f-password": testPassword}, "form button[type=submit]"),
			chromedp.WaitVisible(chromedp.CSS(".user-menu")))
		return b
	}
	b := signedIn()
	shots := os.Getenv("ATRIUM_SHOTS")
	for i, p := range pages {
		if shots != "" && i > 0 && i%20 == 0 {
			b = signedIn() // screenshots are slow: a new browser, with a deadline of its own
		}
		run(t, b, p.name, chromedp.Navigate(f.ts.URL+p.path), chromedp.WaitReady(chromedp.CSS("main")))
		over := read(t, b, p.name+": measure", chromedp.Evaluate[string](overflowJS))
		if over != "" {
			t.Errorf("%s (%s) at 390 px: %s", p.name, p.path, over)
		}
		if side := read(t, b, p.name+": tables", chromedp.Evaluate[string](sidewaysJS)); side != "" {
			t.Errorf("%s (%s) at 390 px: a table scrolls sideways instead of showing cards: %s", p.name, p.path, side)
		}
		if p.h1 != "" {
			if h1 := read(t, b, p.name+": heading", chromedp.Text(chromedp.CSS("h1"))); h1 != p.h1 {
				t.Errorf("%s (%s): heading %q, want %q", p.name, p.path, h1, p.h1)
			}
		}
		if shots != "" && p.shot {
			saveShots(t, b, shots, fmt.Sprintf("%02d-%s", i, p.name))
		}
	}
	if t.Failed() {
		return
	}
	run(t, b, "contacts as cards", chromedp.Navigate(f.ts.URL+a+"/contacts"), chromedp.WaitReady(chromedp.CSS("main")))
	card := read(t, b, "a contact's card", chromedp.Evaluate[string](`(() => {
	  const tr = document.querySelector(".table tbody tr"), email = tr.querySelector('td[data-label="Email"]');
	  return getComputedStyle(tr).display + " " + getComputedStyle(email, "::before").content;
	})()`))
	if card != `block "Email"` {
		t.Errorf("at 390 px a contact's row shows as %s, want a card (block) whose email is labelled", card)
	}
	run(t, b, "contacts with the columns and views menus open", chromedp.Navigate(f.ts.URL+a+"/contacts"), chromedp.WaitReady(chromedp.CSS("main")))
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`(() => {
	  document.querySelectorAll("details.list-menu").forEach(d => d.open = true);
	  document.querySelector("[data-check-all]").click();
	  return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	if over := read(t, b, "contacts menus: measure", chromedp.Evaluate[string](overflowJS)); over != "" {
		t.Errorf("contacts with its menus open at 390 px: %s", over)
	}
	run(t, b, "sign out",
		chromedp.Navigate(f.ts.URL+"/"),
		chromedp.Click(chromedp.CSS(".user-menu summary")),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("f-email")))
	if over := read(t, b, "sign-in page: measure", chromedp.Evaluate[string](overflowJS)); over != "" {
		t.Errorf("sign-in page at 390 px: %s", over)
	}
	run(t, b, "sign in again",
		fill(map[string]string{"f-email": d.email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".user-menu")))
	run(t, b, "the last stage of the board can be scrolled to inside the board",
		chromedp.Navigate(f.ts.URL+a+"/deals?pipeline="+d.pipeline), chromedp.WaitReady(chromedp.CSS(".board")))
	problem, err := chromedp.Run(b, chromedp.Evaluate[string](`(() => {
	  const board = document.querySelector(".board"), cols = board.querySelectorAll(".column");
	  board.querySelectorAll("details.move").forEach(d => d.open = true);
	  board.scrollLeft = board.scrollWidth;
	  const last = cols[cols.length - 1].getBoundingClientRect(), box = board.getBoundingClientRect();
	  const out = [...board.querySelectorAll(".move *:not(.sr-only)")].find(m => { const r = m.getBoundingClientRect(), c = m.closest(".deal-card").getBoundingClientRect(); return r.width > 0 && r.right > c.right + 1; });
	  if (cols.length !== 9) return cols.length + " columns, want 9";
	  if (last.right > box.right + 1 || last.left < box.left - 1) return "the last column spans " + Math.round(last.left) + "–" + Math.round(last.right) + " px, the board " + Math.round(box.left) + "–" + Math.round(box.right) + " px";
	  if (out) return "a Move control (" + out.tagName + ") sticks out of its card";
	  return "";
	})()`))
	if err != nil {
		t.Fatalf("measure the board: %v", err)
	}
	if problem != "" {
		t.Errorf("on the nine-stage board at 390 px, scrolled to its end: %s", problem)
	}
}

// saveShots saves screenshots of the current page: its first screen at
// 390 px wide, and the whole page at 390 and 1400 px; then goes back to
// 390.
func saveShots(t *testing.T, b context.Context, dir, name string) {
	t.Helper()
	name = strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "").Replace(name)
	top, err := chromedp.Run(b, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-390-top.png"), top, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{390, 1400} {
		run(t, b, name+": resize", chromedp.EmulateViewport(w, 900))
		png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, b, "back to 390 px", chromedp.EmulateViewport(390, 844))
}

// layoutData is what seedLayout made.
type layoutData struct {
	email                            string // the superadmin signing in
	contact, company, deal, pipeline string
	trashed, viewerWorkspace         string
}

// seedLayout fills workspace A with what a real workspace has and the
// fixture lacks: long names and emails, a nine-stage pipeline full of
// deals, custom fields of contacts and companies, tasks and long notes;
// and signs a superadmin with a long name into it, who owns a trashed
// workspace and is a viewer in another.
func seedLayout(t *testing.T, f *fixture) layoutData {
	t.Helper()
	ctx := t.Context()
	d := layoutData{email: "maximiliane.von-hohenzollern-sigmaringen@operations.example"}
	root, err := store.CreateUser(ctx, f.ts.tenants.Catalog(), store.NewUser{Email: d.email, Name: "Maximiliane Alexandra von Hohenzollern-Sigmaringen",
		Password: testPassword, Superadmin: true, Verified: true})
	if err != nil {
		t.Fatal(err)
	}
	f.ts.mustMember(t, f.a, root, "owner")
	d.trashed = f.ts.mustWorkspace(t, "Initech (former client)", d.email)
	if _, err := f.ts.tenants.Trash(ctx, d.trashed, "user:"+root.ID); err != nil {
		t.Fatal(err)
	}
	d.viewerWorkspace = f.ts.mustWorkspace(t, "Somebody else's workspace", f.owner.Email)
	f.ts.mustMember(t, d.viewerWorkspace, root, "viewer")

	l, err := f.ts.tenants.Acquire(ctx, f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	a := store.Actor{Kind: "user", ID: root.ID}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = store.CreateCustomField(ctx, l.DB, a, store.NewCustomField{Entity: "contact", Key: "qbr_channel", Label: "Preferred channel for quarterly business reviews", Type: "text"})
	must(err)
	_, err = store.CreateCustomField(ctx, l.DB, a, store.NewCustomField{Entity: "company", Key: "arr_band", Label: "Annual recurring revenue band", Type: "select",
		Options: []string{"Under 100 thousand", "100 thousand to 1 million", "Over 1 million euros a year"}})
	must(err)
	_, err = store.CreateCustomField(ctx, l.DB, a, store.NewCustomField{Entity: "deal", Key: "procurement_portal", Label: "Supplier registration in the procurement portal", Type: "url"})
	must(err)
	coName, domain, industry := "Müller & Söhne Industrieanlagen und Präzisionswerkzeuge GmbH", "mueller-soehne-industrieanlagen-praezisionswerkzeuge.example", "Industrial machinery and precision tools"
	co, err := store.CreateCompany(ctx, l.DB, a, store.CompanyInput{Name: &coName, Domain: &domain, Industry: &industry,
		Tags: &[]string{"manufacturing", "enterprise", "dach-region", "key-account"}, Custom: map[string]any{"arr_band": "Over 1 million euros a year"}})
	must(err)
	d.company = co.ID
	for i := 0; i < 12; i++ {
		first, last := fmt.Sprintf("Maximilian%d", i), "Alexander von Hohenzollern-Sigmaringen"
		email := fmt.Sprintf("maximilian.alexander.von-hohenzollern-sigmaringen.%d@mueller-soehne-industrieanlagen.example", i)
		title, phone := "Head of Procurement and Supplier Relationship Management", "+49 (0) 7571 123 456 789"
		c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{FirstName: &first, LastName: &last, Email: &email, Title: &title, Phone: &phone,
			CompanyID: &co.ID, OwnerID: &root.ID, Tags: &[]string{"decision-maker", "trade-fair-2026", "newsletter"},
			Custom: map[string]any{"qbr_channel": "A video call in the first week of the quarter, never on Fridays"}})
		must(err)
		if i == 0 {
			d.contact = c.ID
		}
	}
	_, err = store.CreateNote(ctx, l.DB, a, store.NoteInput{ContactID: d.contact,
		Body: "Sent the proposal: https://docs.example/proposals/mueller-soehne-industrieanlagen/2026/quarterly-review-with-the-procurement-team-final-v3.pdf"})
	must(err)
	taskTitle, due := "Call Maximilian about the framework agreement for the subsidiaries in Austria and Switzerland", "2026-12-01"
	_, err = store.CreateTask(ctx, l.DB, a, store.TaskInput{ContactID: &d.contact, Title: &taskTitle, DueDate: &due, AssigneeID: &root.ID})
	must(err)
	p, err := store.CreatePipeline(ctx, l.DB, a, "Enterprise expansion across regional subsidiaries")
	must(err)
	d.pipeline = p.ID
	for _, name := range []string{"Technical evaluation", "Security review", "Legal and procurement", "Signed, awaiting kickoff"} {
		_, err := store.AddStage(ctx, l.DB, a, p.ID, store.StageInput{Name: name, Probability: 95})
		must(err)
	}
	p, err = store.GetPipeline(ctx, l.DB, p.ID)
	must(err)
	for i, st := range p.Stages {
		for j := 0; j < 2; j++ {
			title := fmt.Sprintf("Framework agreement for the subsidiaries, phase %d.%d", i, j)
			value, currency := "1234567.89", "EUR"
			deal, err := store.CreateDeal(ctx, l.DB, a, store.DealInput{Title: &title, Value: &value, Currency: &currency, PipelineID: &p.ID, StageID: &st.ID,
				ContactID: &d.contact, CompanyID: &co.ID, OwnerID: &root.ID,
				Custom: map[string]any{"procurement_portal": "https://suppliers.mueller-soehne-industrieanlagen.example/registration/framework-agreements/2026"}})
			must(err)
			if d.deal == "" {
				d.deal = deal.ID
			}
		}
	}
	return d
}
