package handlers

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive, or "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("ATRIUM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium of its own (its own cookies) and
// returns a context to drive it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	// A loaded CI machine sometimes misses Chromium's start-up deadline;
	// one more try tells that apart from a browser that cannot start.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		if err = chromedp.Do(ctx); err == nil {
			ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
			return ctx
		}
		cancelCtx()
		cancelAlloc()
	}
	t.Fatalf("Chromium at %s did not start: %v", path, err)
	return nil
}

type step = chromedp.Action[chromedp.Void]

func run(t *testing.T, ctx context.Context, what string, steps ...step) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// read runs one action that returns a string.
func read(t *testing.T, ctx context.Context, what string, a chromedp.Action[string]) string {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// fill sets inputs by id and submits with the given button.
func fill(fields map[string]string, submit string) step {
	var steps []step
	for id, value := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.ID(id), value))
	}
	return chromedp.Steps(append(steps, chromedp.Click(chromedp.CSS(submit)), chromedp.WaitReady(chromedp.CSS("body")))...)
}

// TestBrowser_SetupInviteSwitchLogout walks the first-run story in a real
// browser: set up, create two workspaces, invite a second user by link,
// who sees only that workspace; switch; sign out.
func TestBrowser_SetupInviteSwitchLogout(t *testing.T) {
	ts := newTestServer(t)
	ana := newBrowser(t)
	location := chromedp.Location()

	run(t, ana, "first visit", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("f-email")))
	if url := read(t, ana, "location", location); !strings.HasSuffix(url, "/setup") {
		t.Fatalf("first visit landed on %s", url)
	}
	run(t, ana, "setup", fill(map[string]string{"f-name": "Ana Silva", "f-email": "ana@example.com", "f-password": testPassword}, "form button[type=submit]"))
	run(t, ana, "create Acme",
		chromedp.WaitVisible(chromedp.ID("new-workspace")),
		fill(map[string]string{"f-name": "Acme"}, "#new-workspace button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".workspace-sections")))
	acme := workspaceIDOf(t, read(t, ana, "location", location))
	run(t, ana, "create Globex",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("new-workspace")),
		fill(map[string]string{"f-name": "Globex"}, "#new-workspace button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".workspace-sections")))
	globex := workspaceIDOf(t, read(t, ana, "location", location))
	run(t, ana, "the restore panel loads after the settings page",
		chromedp.Navigate(ts.URL+"/w/"+acme+"/settings"),
		chromedp.WaitVisible(chromedp.ID("restore-panel")),
		chromedp.WaitNotPresent(chromedp.CSS("#restore-panel [hx-get]")))
	if text := read(t, ana, "restore panel", chromedp.Text(chromedp.ID("restore-panel"))); !strings.Contains(text, "bring the workspace back") && !strings.Contains(text, "No backup yet: the first one is made") {
		t.Fatalf("restore panel: %q", text)
	}

	run(t, ana, "invite by link",
		chromedp.Navigate(ts.URL+"/w/"+globex+"/members"),
		chromedp.WaitVisible(chromedp.ID("f-role")),
		chromedp.SetValue(chromedp.ID("f-role"), "member"),
		chromedp.Click(chromedp.CSS(`form[action$="/members/invite"] button`)),
		chromedp.WaitVisible(chromedp.ID("invite-link")))
	link := read(t, ana, "invitation link", chromedp.Value(chromedp.ID("invite-link")))
	if !strings.Contains(link, "/invite/") {
		t.Fatalf("invitation link %q", link)
	}

	bo := newBrowser(t)
	run(t, bo, "accept the invitation",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-name": "Bo", "f-email": "bo@example.com", "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".workspace-sections")))
	if got := workspaceIDOf(t, read(t, bo, "location", location)); got != globex {
		t.Fatalf("Bo landed in %s, want Globex %s", got, globex)
	}
	run(t, bo, "Bo signs out and in again",
		chromedp.Click(chromedp.CSS(".user-menu summary")),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": "bo@example.com", "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".cards")))
	if cards := read(t, bo, "workspace cards", chromedp.Text(chromedp.CSS(".cards"))); !strings.Contains(cards, "Globex") || strings.Contains(cards, "Acme") {
		t.Fatalf("Bo's workspaces: %q", cards)
	}
	run(t, bo, "Bo opens Acme", chromedp.Navigate(ts.URL+"/w/"+acme+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h1 := read(t, bo, "heading", chromedp.Text(chromedp.CSS("h1"))); h1 != "Page not found" {
		t.Fatalf("Bo opening Acme sees %q", h1)
	}

	run(t, ana, "switch to Acme with the switcher",
		chromedp.Navigate(ts.URL+"/w/"+globex+"/"),
		chromedp.WaitVisible(chromedp.CSS(".switcher summary")),
		chromedp.Click(chromedp.CSS(".switcher summary")),
		chromedp.Click(chromedp.CSS(`.switcher-list button[value="`+acme+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sections a[href="/w/`+acme+`/"]`)))
	if name := read(t, ana, "context", chromedp.Text(chromedp.CSS(".context strong"))); name != "Acme" {
		t.Fatalf("after switching the frame names %q", name)
	}
	run(t, ana, "sign out",
		chromedp.Click(chromedp.CSS(".user-menu summary")),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		chromedp.Navigate(ts.URL+"/w/"+acme+"/"),
		chromedp.WaitVisible(chromedp.ID("f-email")))
	if url := read(t, ana, "location", location); !strings.Contains(url, "/login") {
		t.Fatalf("after signing out, a workspace page shows %s", url)
	}
}

// workspaceIDOf takes the workspace id out of a /w/{id}/ URL.
func workspaceIDOf(t *testing.T, url string) string {
	t.Helper()
	_, rest, ok := strings.Cut(url, "/w/")
	if !ok || len(rest) < 36 {
		t.Fatalf("not a workspace URL: %s", url)
	}
	return rest[:36]
}
