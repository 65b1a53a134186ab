package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func twoFactorCatalog(t *testing.T) (*Catalog, *User) {
	t.Helper()
	catalog, err := OpenCatalog(filepath.Join(t.TempDir(), "catalog.db"), OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catalog.Close() })
	if _, _, err := Migrate(context.Background(), catalog.DB, CatalogSchema); err != nil {
		t.Fatal(err)
	}
	u, err := CreateUser(context.Background(), catalog, NewUser{Email: "ann@example.com", Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	return catalog, u
}

// TestTwoFactor_ReplayUnderConcurrency: one code sent many times at once
// passes once.
func TestTwoFactor_ReplayUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	catalog, u := twoFactorCatalog(t)
	tf, err := BeginTwoFactor(ctx, catalog, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code, _ := totp.GenerateCodeCustom(tf.Secret, now, totpOpts)
	if _, err := EnableTwoFactor(ctx, catalog, u.ID, code, now); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTwoFactor(ctx, catalog, u.ID, code, now); ErrorCode(err) != EUnauthorized {
		t.Fatalf("the enabling code again: %v, want refused", err)
	}
	// An earlier step's code is refused too, once a later one is spent.
	next, _ := totp.GenerateCodeCustom(tf.Secret, now.Add(30*time.Second), totpOpts)
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 8 {
		wg.Go(func() {
			if VerifyTwoFactor(ctx, catalog, u.ID, next, now) == nil {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != 1 {
		t.Fatalf("one code sent 8 times at once passed %d times, want 1", passed)
	}
	prev, _ := totp.GenerateCodeCustom(tf.Secret, now.Add(-30*time.Second), totpOpts)
	if prev != next && VerifyTwoFactor(ctx, catalog, u.ID, prev, now) == nil {
		t.Fatal("an earlier step's code passed after a later one")
	}
	// A code from outside the window is wrong.
	far, _ := totp.GenerateCodeCustom(tf.Secret, now.Add(5*time.Minute), totpOpts)
	if err := VerifyTwoFactor(ctx, catalog, u.ID, far, now); ErrorCode(err) != EUnauthorized {
		t.Fatalf("a code five minutes ahead: %v, want refused", err)
	}
}

func TestTwoFactor_RecoveryCodes(t *testing.T) {
	ctx := context.Background()
	catalog, u := twoFactorCatalog(t)
	if err := VerifyTwoFactor(ctx, catalog, u.ID, "123456", time.Now()); ErrorCode(err) != EInvalid {
		t.Fatalf("a code for a user without 2FA: %v", err)
	}
	tf, _ := BeginTwoFactor(ctx, catalog, u.ID)
	now := time.Now()
	code, _ := totp.GenerateCodeCustom(tf.Secret, now, totpOpts)
	codes, err := EnableTwoFactor(ctx, catalog, u.ID, code, now)
	if err != nil || len(codes) != RecoveryCodeCount {
		t.Fatalf("enable: %d codes, %v", len(codes), err)
	}
	if _, err := BeginTwoFactor(ctx, catalog, u.ID); ErrorCode(err) != EConflict {
		t.Fatalf("begin when on: %v", err)
	}
	var stored int
	catalog.R.Get(&stored, `SELECT count(*) FROM recovery_codes WHERE hash IN (?, ?)`, codes[0], codes[1])
	if stored != 0 {
		t.Fatal("recovery codes stored in clear")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcde-fghi1", "abcde-fghij-k"} {
		if err := VerifyTwoFactor(ctx, catalog, u.ID, bad, now); ErrorCode(err) != EValidation {
			t.Errorf("malformed %q: %v, want a validation error", bad, err)
		}
	}
	if err := VerifyTwoFactor(ctx, catalog, u.ID, "aaaaa-aaaaa", now); ErrorCode(err) != EUnauthorized {
		t.Fatalf("unknown recovery code: %v", err)
	}
	if err := VerifyTwoFactor(ctx, catalog, u.ID, " "+codes[3][:5]+codes[3][6:]+" ", now); err != nil {
		t.Fatalf("recovery code without its dash: %v", err)
	}
	if err := VerifyTwoFactor(ctx, catalog, u.ID, codes[3], now); ErrorCode(err) != EUnauthorized {
		t.Fatalf("recovery code twice: %v", err)
	}
	if n, _ := RecoveryCodesLeft(ctx, catalog.R, u.ID); n != RecoveryCodeCount-1 {
		t.Fatalf("left: %d", n)
	}
	if err := DisableTwoFactor(ctx, catalog, u.ID); err != nil {
		t.Fatal(err)
	}
	if on, _ := TwoFactorEnabled(ctx, catalog.R, u.ID); on {
		t.Fatal("still on")
	}
	if n, _ := RecoveryCodesLeft(ctx, catalog.R, u.ID); n != 0 {
		t.Fatalf("recovery codes left after disabling: %d", n)
	}
}

func TestResetPassword_EndsSessions(t *testing.T) {
	ctx := context.Background()
	catalog, u := twoFactorCatalog(t)
	for range 3 {
		if _, err := CreateSession(ctx, catalog, u.ID, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ResetPassword(ctx, catalog, u.Email, "short"); ErrorCode(err) != EValidation {
		t.Fatalf("short: %v", err)
	}
	if _, _, err := ResetPassword(ctx, catalog, "nobody@example.com", "a long password"); ErrorCode(err) != ENotFound {
		t.Fatalf("unknown: %v", err)
	}
	_, ended, err := ResetPassword(ctx, catalog, "ANN@example.com", "another long one")
	if err != nil || ended != 3 {
		t.Fatalf("reset: %d ended, %v", ended, err)
	}
	if _, err := Authenticate(ctx, catalog, u.Email, "another long one"); err != nil {
		t.Fatal("the new password does not sign in")
	}
	if _, err := Authenticate(ctx, catalog, u.Email, "a long password"); err == nil {
		t.Fatal("the old password still signs in")
	}
}

func TestListExportRole(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	if role, err := ListExportRole(ctx, db.R); err != nil || role != "member" {
		t.Fatalf("default: %q, %v", role, err)
	}
	for role, want := range map[string]bool{"owner": true, "admin": true, "member": true, "viewer": false} {
		if got, _ := MayExportLists(ctx, db.R, role); got != want {
			t.Errorf("by default, %s may export: %v, want %v", role, got, want)
		}
	}
	if err := SetListExportRole(ctx, db, tester, "owner"); ErrorCode(err) != EValidation {
		t.Fatalf("owner is not a choice: %v", err)
	}
	if err := SetListExportRole(ctx, db, tester, "admin"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := MayExportLists(ctx, db.R, "member"); ok {
		t.Error("a member may export under admins only")
	}
	if ok, _ := MayExportLists(ctx, db.R, "admin"); !ok {
		t.Error("an admin may not export under admins only")
	}
	var n int
	db.R.Get(&n, `SELECT count(*) FROM audit_log WHERE action = 'settings.update'`)
	if n != 1 {
		t.Errorf("audited changes: %d, want 1", n)
	}
}
