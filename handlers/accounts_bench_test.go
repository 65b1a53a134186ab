package handlers

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"atrium/store"
)

// BenchmarkLoginLimiter_Reserve: one attempt's check and count, with the
// limiter holding many accounts and addresses.
func BenchmarkLoginLimiter_Reserve(b *testing.B) {
	l := newLoginLimiter()
	now := time.Now()
	for i := range 50_000 { // 150,000 keys: past maxTrackedKeys, the sweep's case
		l.reserve("user"+strconv.Itoa(i)+"@example.com", "10.0."+strconv.Itoa(i/256%256)+"."+strconv.Itoa(i%256), now)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.reserve("user"+strconv.Itoa(i%50_000)+"@example.com", "192.0.2."+strconv.Itoa(i%256), now.Add(time.Duration(i)*time.Millisecond))
	}
}

// BenchmarkAccountPage_Enforced: a signed-in page with the instance's
// two-factor requirement on (the user has it) and off, to see what the
// enforcement check adds to a request.
func BenchmarkAccountPage_Enforced(b *testing.B) {
	for _, required := range []bool{false, true} {
		b.Run("required="+strconv.FormatBool(required), func(b *testing.B) {
			ts := newTestServer(b)
			u := ts.mustUser(b, "ann@example.com", false)
			c := ts.loggedIn(b, u.Email)
			if err := store.SetRequireTwoFactor(b.Context(), ts.tenants.Catalog(), required); err != nil {
				b.Fatal(err)
			}
			if required {
				tf, _ := store.BeginTwoFactor(b.Context(), ts.tenants.Catalog(), u.ID)
				if _, err := ts.tenants.Catalog().W.Exec(`UPDATE user_totp SET enabled_at = ? WHERE user_id = ?`, time.Now(), tf.UserID); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if r := c.get("/account"); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}
