package tenant

import (
	"context"
	"testing"
	"time"

	"atrium/store"
)

// The retention job opens only the workspaces that may have a policy: not
// every workspace every few hours (which also registered each one with
// Litestream and made never-opened ones replicate).
func TestApplyRetention_OpensOnlyWorkspacesWithAPolicy(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	quiet := mustCreate(t, m, "Never opened")
	used := mustCreate(t, m, "Used, no policy")
	kept := mustCreate(t, m, "With a policy")
	addCompany(t, m, used.ID, "x")
	l, err := m.Acquire(ctx, kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRetention(ctx, l, store.Actor{Kind: "system", ID: "test"}, store.Retention{AuditDays: 30}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	row := func(w *store.Workspace) *store.Workspace {
		t.Helper()
		got, err := store.GetWorkspace(ctx, m.Catalog().R, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	sum, err := m.ApplyRetention(ctx, time.Now().Add(60*24*time.Hour), func(w *store.Workspace, err error) { t.Errorf("%s: %v", w.Name, err) })
	if err != nil || sum.Applied != 1 || sum.Cleared != 0 || sum.AuditEvents == 0 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if !row(quiet).Pristine {
		t.Fatal("the job opened a workspace that was never opened")
	}

	// A workspace flagged without a policy (as every one is after the
	// upgrade that added the flag) is looked at once, then skipped.
	if err := store.SetRetentionFlag(ctx, m.Catalog().W, used.ID, true); err != nil {
		t.Fatal(err)
	}
	sum, err = m.ApplyRetention(ctx, time.Now(), nil)
	if err != nil || sum.Applied != 1 || sum.Cleared != 1 || row(used).RetentionPolicy {
		t.Fatalf("summary %+v, %v; flag %v", sum, err, row(used).RetentionPolicy)
	}
	// Removing the policy clears the flag.
	l, err = m.Acquire(ctx, kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRetention(ctx, l, store.Actor{Kind: "system", ID: "test"}, store.Retention{}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if sum, err = m.ApplyRetention(ctx, time.Now(), nil); err != nil || sum != (RetentionSummary{}) {
		t.Fatalf("after the policy was removed: %+v, %v", sum, err)
	}
}
