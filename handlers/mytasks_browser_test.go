package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowser_MyTasks: the switcher loads its counts when opened, and a
// task ticked on My tasks turns done in place, without a reload.
func TestBrowser_MyTasks(t *testing.T) {
	f := newTasksFixture(t)
	late, _ := f.addTask(t, f.acme, f.maya, "Call Ana back", day(-1), f.maya.ID)
	f.addTask(t, f.globex, f.olga, "Renew the contract", day(0), f.maya.ID)
	b := newBrowser(t)
	run(t, b, "sign in",
		chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": f.maya.Email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".sections")))

	run(t, b, "open the switcher",
		chromedp.Navigate(f.ts.URL+"/w/"+f.acme+"/"),
		chromedp.WaitVisible(chromedp.CSS(".switcher summary")))
	if got := read(t, b, "counts before", chromedp.Evaluate[string](`document.getElementById("due-`+f.globex+`").textContent`)); got != "" {
		t.Fatalf("the switcher holds counts before it was opened: %q", got)
	}
	run(t, b, "counts arrive",
		chromedp.Click(chromedp.CSS(".switcher summary")),
		chromedp.WaitVisible(chromedp.CSS("#due-"+f.globex+" .badge")))
	if got := read(t, b, "Globex count", chromedp.TextContent(chromedp.CSS("#due-"+f.globex))); got != "1 due today" {
		t.Errorf("Globex shows %q", got)
	}
	if got := read(t, b, "Acme count", chromedp.TextContent(chromedp.CSS("#due-"+f.acme))); strings.TrimSpace(got) != "1 overdue" {
		t.Errorf("Acme shows %q", got)
	}

	run(t, b, "My tasks from the frame",
		chromedp.Click(chromedp.CSS(".switcher summary")), // closed again: its menu covers the link
		chromedp.Click(chromedp.CSS(`.sidebar a[href="/my-tasks"]`)),
		chromedp.WaitVisible(chromedp.ID("mytask-"+late)))
	// A mark on the page's window: a reload would lose it.
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.stayed = true`)); err != nil {
		t.Fatal(err)
	}
	run(t, b, "mark done",
		chromedp.Click(chromedp.CSS("#mytask-"+late+" button.check-button")),
		chromedp.WaitVisible(chromedp.CSS("#mytask-"+late+".done")))
	if stayed := read(t, b, "no reload", chromedp.Evaluate[string](`String(window.stayed)`)); stayed != "true" {
		t.Error("marking done reloaded the page")
	}
	if got := read(t, b, "row", chromedp.Text(chromedp.ID("mytask-"+late))); !strings.Contains(got, "done") || !strings.Contains(got, "Acme") {
		t.Errorf("the row after marking done: %q", got)
	}
	run(t, b, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
	if body := read(t, b, "page", chromedp.Text(chromedp.CSS("main"))); strings.Contains(body, "Call Ana back") || !strings.Contains(body, "Renew the contract") {
		t.Errorf("after a reload: %q", body)
	}
}
