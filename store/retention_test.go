package store

import (
	"context"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Old")})
	UpdateContact(ctx, db, tester, c.ID, ContactInput{Title: ptr("X")})
	if err := SetRetention(ctx, db, tester, Retention{AuditDays: -1}, nil); ErrorField(err) != "audit_days" {
		t.Fatalf("negative days: %v", err)
	}
	// Nothing is deleted while the policy keeps everything.
	if run, _ := ApplyRetention(ctx, db, tester, time.Now().Add(400*24*time.Hour), nil); run.AuditEvents != 0 || run.Activities != 0 || run.Policy != (Retention{}) {
		t.Fatalf("deleted with no policy: %+v", run)
	}
	// A run that deletes nothing leaves no trace in the audit log.
	if events, _, _ := ListAudit(ctx, db, AuditFilter{Action: "retention.apply"}); len(events) != 0 {
		t.Fatalf("a run that deleted nothing was audited: %+v", events)
	}
	if err := SetRetention(ctx, db, tester, Retention{AuditDays: 30, ActivityDays: 90}, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := GetRetention(ctx, db); r.AuditDays != 30 || r.ActivityDays != 90 {
		t.Fatalf("policy %+v", r)
	}
	run, err := ApplyRetention(ctx, db, tester, time.Now().Add(60*24*time.Hour), nil)
	if err != nil || run.AuditEvents < 3 || run.Activities != 0 || run.Policy.AuditDays != 30 {
		t.Fatalf("after 60 days: %+v %v", run, err)
	}
	run, _ = ApplyRetention(ctx, db, tester, time.Now().Add(100*24*time.Hour), nil)
	if run.Activities != 2 {
		t.Fatalf("after 100 days: %+v", run)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{Action: "retention.apply"})
	if len(events) == 0 {
		t.Fatal("runs are not audited")
	}
	if _, err := GetContact(ctx, db, c.ID); err != nil {
		t.Fatal("retention deleted a contact")
	}
}
