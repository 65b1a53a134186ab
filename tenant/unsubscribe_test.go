package tenant

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"

	"atrium/store"
)

func TestUnsubscribeToken_RoundTrip(t *testing.T) {
	ctx := context.Background()
	m := mustOpenManagerAt(t, t.TempDir(), 0)
	a := mustCreate(t, m, "A")
	svc, _ := leasedService(t, m, a.ID)
	contact := "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"
	token, err := svc.UnsubscribeToken(ctx, contact, "Ana@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(token, "ana") || strings.Contains(string(mustDecode(t, token)), "ana@") {
		t.Fatal("the token shows the address")
	}
	c, err := m.ParseUnsubscribeToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkspaceID != a.ID || c.ContactID != contact || c.Email != "ana@example.com" {
		t.Fatalf("got %+v", c)
	}
	none, _ := svc.UnsubscribeToken(ctx, "", "bo@example.com")
	if c, err := m.ParseUnsubscribeToken(ctx, none); err != nil || c.ContactID != "" || c.Email != "bo@example.com" {
		t.Fatalf("without a contact: %+v, %v", c, err)
	}
	url, _ := svc.UnsubscribeURL(ctx, contact, "ana@example.com")
	if !strings.HasPrefix(url, DefaultPublicURL+"/u/") {
		t.Fatalf("url = %s", url)
	}
}

func mustDecode(tb testing.TB, token string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestUnsubscribeToken_Tampered: a token changed in any character, or cut
// short, or made to name another workspace, is not found.
func TestUnsubscribeToken_Tampered(t *testing.T) {
	ctx := context.Background()
	m := mustOpenManagerAt(t, t.TempDir(), 0)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	svcA, _ := leasedService(t, m, a.ID)
	svcB, _ := leasedService(t, m, b.ID)
	svcB.UnsubscribeToken(ctx, "", "x@example.com") // B has a key
	token, err := svcA.UnsubscribeToken(ctx, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range token {
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, token[i])+1)%64], alphabet[(strings.IndexByte(alphabet, token[i])+33)%64]} {
			bad := token[:i] + string(r) + token[i+1:]
			if _, err := m.ParseUnsubscribeToken(ctx, bad); store.ErrorCode(err) != store.ENotFound {
				t.Fatalf("character %d changed to %q: err = %v, want not found", i, r, err)
			}
		}
	}
	raw := mustDecode(t, token)
	for i := range raw {
		flipped := append([]byte(nil), raw...)
		flipped[i] ^= 0x01
		if _, err := m.ParseUnsubscribeToken(ctx, base64.RawURLEncoding.EncodeToString(flipped)); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("byte %d flipped: err = %v, want not found", i, err)
		}
	}
	for _, bad := range []string{"", "x", token[:len(token)-1], token + "A", token[:20]} {
		if _, err := m.ParseUnsubscribeToken(ctx, bad); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("%q: err = %v, want not found", bad, err)
		}
	}
	// A's sealed contact and address, claimed for B: B's key does not open it.
	idB := uuid.MustParse(b.ID)
	forB := append(append([]byte{raw[0]}, idB[:]...), raw[17:]...)
	if _, err := m.ParseUnsubscribeToken(ctx, base64.RawURLEncoding.EncodeToString(forB)); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("A's token naming B: err = %v, want not found", err)
	}
	// Nor does B's service act on a claim of A's.
	c, _ := m.ParseUnsubscribeToken(ctx, token)
	if _, err := svcB.Unsubscribe(ctx, c, ""); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("B unsubscribing A's claim: err = %v", err)
	}
	// An unknown workspace is not found, and gets no key made for it.
	unknown := append(append([]byte{raw[0]}, make([]byte, 16)...), raw[17:]...)
	unknown[5] = 7
	if _, err := m.ParseUnsubscribeToken(ctx, base64.RawURLEncoding.EncodeToString(unknown)); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("unknown workspace: err = %v", err)
	}
	var keys int
	m.Catalog().R.GetContext(ctx, &keys, `SELECT count(*) FROM workspace_keys`)
	if keys != 2 {
		t.Fatalf("%d workspace keys, want 2", keys)
	}
}

// TestService_Unsubscribe: the claim suppresses its address in its own
// workspace only, once.
func TestService_Unsubscribe(t *testing.T) {
	ctx := context.Background()
	m := mustOpenManagerAt(t, t.TempDir(), 0)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	svcA, _ := leasedService(t, m, a.ID)
	svcB, _ := leasedService(t, m, b.ID)
	token, _ := svcA.UnsubscribeToken(ctx, "", "ana@example.com")
	c, err := m.ParseUnsubscribeToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if added, err := svcA.Unsubscribe(ctx, c, "192.0.2.1"); err != nil || added != want {
			t.Fatalf("use %d: added = %v, err = %v", i+1, added, err)
		}
	}
	if got, _ := svcA.Suppressed(ctx, []string{"ana@example.com"}); got["ana@example.com"] != store.SuppressUnsubscribed {
		t.Fatalf("A: %v", got)
	}
	if got, _ := svcB.Suppressed(ctx, []string{"ana@example.com"}); len(got) != 0 {
		t.Fatalf("B has A's suppression: %v", got)
	}
}

// TestService_Suppressed: the instance-wide list applies to every
// workspace, next to each one's own.
func TestService_Suppressed(t *testing.T) {
	ctx := context.Background()
	m := mustOpenManagerAt(t, t.TempDir(), 0)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	svcA, _ := leasedService(t, m, a.ID)
	svcB, _ := leasedService(t, m, b.ID)
	if _, err := store.AddInstanceSuppression(ctx, m.Catalog(), "user:root", store.SuppressionInput{Email: "trap@example.com", Reason: store.SuppressComplaint}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.AddSuppression(ctx, svcA.DB(), store.Actor{}, store.SuppressionInput{Email: "ana@example.com"}); err != nil {
		t.Fatal(err)
	}
	emails := []string{"Trap@example.com", "ana@example.com", "bo@example.com"}
	gotA, err := svcA.Suppressed(ctx, emails)
	if err != nil || len(gotA) != 2 || gotA["trap@example.com"] != store.SuppressComplaint || gotA["ana@example.com"] != store.SuppressManual {
		t.Fatalf("A: %v, %v", gotA, err)
	}
	gotB, err := svcB.Suppressed(ctx, emails)
	if err != nil || len(gotB) != 1 || gotB["trap@example.com"] == "" {
		t.Fatalf("B: %v, %v", gotB, err)
	}
}

func TestParsePublicURL(t *testing.T) {
	for in, want := range map[string]string{"https://crm.example.com/": "https://crm.example.com", "http://127.0.0.1:8080": "http://127.0.0.1:8080",
		"https://example.com/crm/": "https://example.com/crm"} {
		if got, err := ParsePublicURL(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "crm.example.com", "ftp://x", "https://", "https://x/?a=1", "https://u:p@x"} {
		if _, err := ParsePublicURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
