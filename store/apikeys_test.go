package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

const testWorkspaceID = "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"

func TestAPIKeys_CreateParseAuthenticate(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	key, k, err := CreateAPIKey(ctx, db, tester, testWorkspaceID, "Zapier", "read")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "atr_0192f0c17b7e7c3a9d2e3f4a5b6c7d8e_"+k.ID+"_") || len(key) != apiKeyLen {
		t.Fatalf("key = %q", key)
	}
	var stored string
	db.R.GetContext(ctx, &stored, `SELECT secret_hash FROM api_keys WHERE id = ?`, k.ID)
	if strings.Contains(key, stored) || len(stored) != 64 {
		t.Fatalf("stored %q", stored)
	}
	ws, id, secret, err := ParseAPIKey(key)
	if err != nil || ws != testWorkspaceID || id != k.ID {
		t.Fatalf("parse: %q %q %v", ws, id, err)
	}
	got, err := AuthenticateAPIKey(ctx, db, id, secret)
	if err != nil || got.Role != "read" || got.CanWrite() || got.LastUsedAt == nil {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: k.ID})
	if len(events) != 1 || events[0].Action != "apikey.create" || strings.Contains(events[0].Changes, secret) {
		t.Fatalf("audit = %+v", events)
	}

	t.Run("ErrWrongSecret", func(t *testing.T) {
		wrong := []byte(secret)
		wrong[0] ^= 1
		if _, err := AuthenticateAPIKey(ctx, db, id, string(wrong)); ErrorCode(err) != EUnauthorized {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		if _, err := AuthenticateAPIKey(ctx, db, "0123456789abcdef", secret); ErrorCode(err) != EUnauthorized {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		if err := RevokeAPIKey(ctx, db, tester, id); err != nil {
			t.Fatal(err)
		}
		if err := RevokeAPIKey(ctx, db, tester, id); err != nil {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := AuthenticateAPIKey(ctx, db, id, secret); ErrorCode(err) != EUnauthorized {
			t.Fatalf("err = %v", err)
		}
		if events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: k.ID, Action: "apikey.revoke"}); len(events) != 1 {
			t.Fatalf("revoke events = %d", len(events))
		}
		if err := RevokeAPIKey(ctx, db, tester, "0123456789abcdef"); ErrorCode(err) != ENotFound {
			t.Fatalf("revoke unknown: %v", err)
		}
	})
}

func TestAPIKeys_LastUsedAtOncePerMinute(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	key, k, _ := CreateAPIKey(ctx, db, tester, testWorkspaceID, "k", "write")
	_, _, secret, _ := ParseAPIKey(key)
	first, _ := AuthenticateAPIKey(ctx, db, k.ID, secret)
	second, _ := AuthenticateAPIKey(ctx, db, k.ID, secret)
	if !second.LastUsedAt.Equal(*first.LastUsedAt) {
		t.Fatalf("last_used_at moved within a minute: %v then %v", first.LastUsedAt, second.LastUsedAt)
	}
	db.W.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?`, time.Now().UTC().Add(-2*time.Minute))
	third, _ := AuthenticateAPIKey(ctx, db, k.ID, secret)
	if time.Since(*third.LastUsedAt) > 10*time.Second {
		t.Fatalf("last_used_at not refreshed after a minute: %v", third.LastUsedAt)
	}
	keys, err := ListAPIKeys(ctx, db)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil || keys[0].SecretHash == "" {
		t.Fatalf("list: %+v %v", keys, err)
	}
}

func TestAPIKeys_CreateErrors(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, tc := range []struct{ ws, name, role, field string }{
		{testWorkspaceID, "", "read", "name"},
		{testWorkspaceID, "k", "admin", "role"},
		{strings.ToUpper(testWorkspaceID), "k", "read", ""},
		{"../etc", "k", "read", ""},
	} {
		_, _, err := CreateAPIKey(ctx, db, tester, tc.ws, tc.name, tc.role)
		if err == nil || ErrorField(err) != tc.field {
			t.Errorf("%+v: err = %v", tc, err)
		}
	}
}

func TestParseAPIKey_Malformed(t *testing.T) {
	good := "atr_0192f0c17b7e7c3a9d2e3f4a5b6c7d8e_0123456789abcdef_" + strings.Repeat("A", 42) + "_"
	if _, _, secret, err := ParseAPIKey(good); err != nil || !strings.HasSuffix(secret, "_") {
		t.Fatalf("a secret may hold _: %v", err)
	}
	for _, bad := range []string{
		"", "atr_", "Bearer " + good, good + "x", good[:len(good)-1],
		strings.Replace(good, "atr_", "atx_", 1),
		strings.Replace(good, "0192f0c1", "0192F0C1", 1),
		strings.Replace(good, "0192f0c1", "0192g0c1", 1),
		strings.Replace(good, "_0123", "-0123", 1),
		strings.Replace(good, "0123456789abcdef_", "0123456789abcdef.", 1),
		strings.Replace(good, "AAAA", "AA+/", 1),
		strings.Replace(good, "AAAA", "AAé", 1),
	} {
		if _, _, _, err := ParseAPIKey(bad); ErrorCode(err) != EUnauthorized {
			t.Errorf("ParseAPIKey(%q) = %v", bad, err)
		}
	}
}
