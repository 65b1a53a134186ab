package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowser_PasswordReset walks "Forgot password?" in a real browser:
// ask for a link, open the one the SMTP server received, set a password,
// sign in with it.
func TestBrowser_PasswordReset(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	ts, smtp := mailServer(t)
	ana := ts.mustUser(t, "ana@example.com", false)
	b := newBrowser(t)
	run(t, b, "ask for a link",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.Click(chromedp.CSS(`a[href="/login/forgot"]`)),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": ana.Email}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)))
	if got := read(t, b, "the answer", chromedp.Text(chromedp.CSS(`p[role=status]`))); !strings.Contains(got, "If an account exists for ana@example.com") {
		t.Fatalf("the answer: %q", got)
	}
	path := resetPath(t, waitMail(t, smtp, 1)[0])
	run(t, b, "set a new password",
		chromedp.Navigate(ts.URL+path),
		chromedp.WaitVisible(chromedp.ID("f-new_password")),
		fill(map[string]string{"f-new_password": "a brand new password", "f-confirm_password": "a brand new password"}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.ID("f-password")))
	if over := read(t, b, "sign-in page: measure", chromedp.Evaluate[string](overflowJS)); over != "" {
		t.Errorf("sign-in page at 390 px: %s", over)
	}
	if flash := read(t, b, "the flash", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(flash, "Your password was changed") {
		t.Errorf("no word of the change: %q", flash)
	}
	run(t, b, "sign in with it",
		fill(map[string]string{"f-email": ana.Email, "f-password": "a brand new password"}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".user-menu")))
}
