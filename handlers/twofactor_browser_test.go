package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser_TwoFactorSignIn sets up two-factor sign-in in a real browser
// (the QR code shows, a code confirms it, the recovery codes show once),
// then signs in from another browser: password, then a wrong code, then
// the right one.
func TestBrowser_TwoFactorSignIn(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "ana@example.com", false)
	ana := newBrowser(t)
	location := chromedp.Location()
	signIn := []step{
		chromedp.Navigate(ts.URL + "/login"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": u.Email, "f-password": testPassword}, "form[action='/login'] button[type=submit]"),
	}
	run(t, ana, "sign in with the password", append(signIn, chromedp.WaitVisible(chromedp.ID("new-workspace")))...)
	run(t, ana, "set up",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("two-factor")),
		chromedp.Click(chromedp.CSS(`#two-factor a[href="/account/2fa"]`)),
		chromedp.WaitVisible(chromedp.ID("totp-secret")))
	loaded, err := chromedp.Run(ana, chromedp.Evaluate[bool](`(() => { const i = document.querySelector('img[alt^="QR code"]'); return !!i && i.complete && i.naturalWidth > 100 })()`))
	if err != nil || !loaded {
		t.Fatalf("the QR code image did not load (CSP or encoding): %v", err)
	}
	secret := read(t, ana, "secret", chromedp.Text(chromedp.ID("totp-secret")))
	run(t, ana, "confirm with a code",
		fill(map[string]string{"f-code": codeAt(t, secret, time.Now())}, "form[action='/account/2fa/enable'] button[type=submit]"),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	codes := read(t, ana, "recovery codes", chromedp.Text(chromedp.ID("recovery-codes")))
	if n := len(strings.Fields(codes)); n != 10 {
		t.Fatalf("recovery codes shown: %d (%q)", n, codes)
	}
	run(t, ana, "account says on",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("two-factor")))
	if text := read(t, ana, "2FA panel", chromedp.Text(chromedp.ID("two-factor"))); !strings.Contains(text, "10 recovery codes left") {
		t.Fatalf("2FA panel: %q", text)
	}

	other := newBrowser(t)
	run(t, other, "password step", append(signIn, chromedp.WaitVisible(chromedp.ID("f-code")))...)
	if url := read(t, other, "location", location); !strings.HasSuffix(url, "/login/2fa") {
		t.Fatalf("after the password: %s", url)
	}
	run(t, other, "half signed in, the account page is out of reach",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("f-email")))
	run(t, other, "password step again", append(signIn, chromedp.WaitVisible(chromedp.ID("f-code")))...)
	run(t, other, "a wrong code",
		fill(map[string]string{"f-code": wrongCode(t, secret)}, "form[action='/login/2fa'] button[type=submit]"),
		chromedp.WaitVisible(chromedp.ID("e-code")))
	if msg := read(t, other, "error", chromedp.Text(chromedp.ID("e-code"))); !strings.Contains(msg, "not right") {
		t.Fatalf("wrong code message: %q", msg)
	}
	run(t, other, "the right code",
		fill(map[string]string{"f-code": codeAt(t, secret, time.Now().Add(30*time.Second))}, "form[action='/login/2fa'] button[type=submit]"),
		chromedp.WaitVisible(chromedp.ID("new-workspace")))
	run(t, other, "signed in: the account page",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("two-factor")))
}
