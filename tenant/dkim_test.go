package tenant

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// The sender signs with the mailbox's sealed key, through the workspace
// service: the real unsubscribe headers are covered, the record shown is
// the one that verifies, and so does the mailbox's test message.
func TestSend_DKIMSigned(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, t.TempDir(), Options{Now: aheadClock()})
	wsID, _ := outreachWorkspace(t, m, srv, 1)
	l, err := m.Acquire(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	svc := m.Service(l)
	mbs, _, err := store.ListMailboxes(ctx, l.DB, "", 10)
	if err != nil || len(mbs) != 1 {
		t.Fatalf("%v, %v", mbs, err)
	}
	mb, err := svc.UpdateMailbox(ctx, store.Actor{Kind: "system", ID: "test"}, mbs[0].ID, store.MailboxInput{DKIMGenerate: ptrStr(store.DKIMRSA)})
	if err != nil {
		t.Fatal(err)
	}
	if !mb.DKIMSet || strings.Contains(mb.DKIMKey, "PRIVATE") || mb.DKIMRecordName() != "atrium._domainkey.acme.example" {
		t.Fatalf("%+v", mb)
	}
	if problem, err := svc.SendTestEmail(ctx, mb.ID, "me@example.org"); problem != "" || err != nil {
		t.Fatalf("test message: %q, %v", problem, err)
	}
	l.Release()
	for len(srv.Messages()) < 2 {
		ids, err := m.RunDue(ctx, m.now())
		if err != nil || len(ids) == 0 {
			t.Fatalf("no send job: %v", err)
		}
		m.WaitJob(ctx, wsID, ids[0])
	}
	lookup := func(name string) ([]string, error) {
		if name == mb.DKIMRecordName() {
			return []string{mb.DKIMRecord}, nil
		}
		return nil, errors.New("no such record")
	}
	for i, msg := range srv.Messages() {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg.Data), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Fatalf("message %d: %v %+v\n%s", i, err, vs, msg.Data)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msg.Data))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && (parsed.Header.Get("List-Unsubscribe") == "" || !strings.Contains(strings.ToLower(strings.Join(vs[0].HeaderKeys, ":")), "list-unsubscribe:list-unsubscribe-post")) {
			t.Fatalf("the unsubscribe headers are not signed: %v", vs[0].HeaderKeys)
		}
	}
}
