package tenant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atrium/outreach/smtptest"
	"atrium/store"
)

func TestLoadConfig_Plans(t *testing.T) {
	write := func(t *testing.T, body string) string {
		path := filepath.Join(t.TempDir(), "atrium.yml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("SpecExample", func(t *testing.T) {
		cfg, err := LoadConfig(write(t, `
plans:
  default: {requests_per_second: 50, burst: 100, contacts: 1000000, storage_mb: 10240,
            members: 100, emails_per_day: 5000, api_calls_per_day: 1000000, imports_per_day: 50}
  small:   {requests_per_second: 5, contacts: 30}
default_plan: default
`), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		small := cfg.Plans["small"]
		if n, ok := small.Limit(QuotaContacts); !ok || n != 30 {
			t.Errorf("small contacts = %d, %v; want 30", n, ok)
		}
		if _, ok := small.Limit(QuotaMembers); ok {
			t.Error("a limit left out of a plan is a limit")
		}
		if small.Burst != 10 || small.KeyRequestsPerSecond != 5 || small.KeyBurst != 10 {
			t.Errorf("small rates = %+v; want burst 10 (twice the rate) and the key's like the workspace's", small)
		}
		if got := cfg.Plans["default"].Summary(); !strings.Contains(got, "50 requests/s (burst 100)") || !strings.Contains(got, "emails per day 5000") {
			t.Errorf("summary = %q", got)
		}
	})
	t.Run("NoPlansMeansNoLimits", func(t *testing.T) {
		cfg, err := LoadConfig("", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p := cfg.Plans[cfg.DefaultPlan]
		if p == nil || p.Summary() != "no limits" {
			t.Fatalf("default plan = %+v", p)
		}
	})
	for name, body := range map[string]string{
		"UnknownDefault": "plans:\n  small: {contacts: 3}\ndefault_plan: gold\n",
		"Negative":       "plans:\n  default: {contacts: -1}\n",
		"BadName":        "plans:\n  Big Plan: {contacts: 3}\n",
		"Misspelt":       "plans:\n  default: {contact: 3}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadConfig(write(t, body), t.TempDir()); err == nil {
				t.Error("config accepted")
			}
		})
	}
}

func TestPlans_SetAndFallBack(t *testing.T) {
	cfg := &Config{Plans: map[string]*Plan{"default": {}, "small": {Contacts: new(int64)}}}
	dir := t.TempDir()
	m := mustOpenJobManager(t, dir, Options{Config: cfg})
	w := mustCreate(t, m, "Acme")
	ctx := context.Background()
	if p, err := m.Plan(ctx, w.ID); err != nil || p.Name != "default" {
		t.Fatalf("new workspace's plan = %v, %v", p, err)
	}
	if _, err := m.SetPlan(ctx, w.ID, "gold"); store.ErrorCode(err) != store.EValidation {
		t.Errorf("unknown plan: %v", err)
	}
	if _, err := m.SetPlan(ctx, NewID(), "small"); store.ErrorCode(err) != store.ENotFound {
		t.Errorf("unknown workspace: %v", err)
	}
	if _, err := m.SetPlan(ctx, w.ID, "small"); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.Plan(ctx, w.ID); p.Name != "small" {
		t.Errorf("plan after SetPlan = %s", p.Name)
	}
	m.Close()

	// A config that dropped the plan puts the workspace on the default.
	m = mustOpenJobManager(t, dir, Options{Config: &Config{Plans: map[string]*Plan{"basic": {}}, DefaultPlan: "basic"}})
	if p, err := m.Plan(ctx, w.ID); err != nil || p.Name != "basic" {
		t.Errorf("plan of a workspace whose plan is gone = %v, %v", p, err)
	}
}

// Usage counts survive a restart, and a flush in progress never hides
// them from a quota check.
func TestUsage_FlushedAndKept(t *testing.T) {
	dir := t.TempDir()
	m := mustOpenJobManager(t, dir, Options{})
	w := mustCreate(t, m, "Acme")
	ctx := context.Background()
	m.CountUsage(w.ID, store.MeterAPICalls, 3)
	if n, err := m.UsedToday(ctx, w.ID, store.MeterAPICalls); err != nil || n != 3 {
		t.Fatalf("before the flush: %d, %v", n, err)
	}
	if err := m.flushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	m.CountUsage(w.ID, store.MeterAPICalls, 2)
	if n, _ := m.UsedToday(ctx, w.ID, store.MeterAPICalls); n != 5 {
		t.Fatalf("after a flush and more: %d, want 5", n)
	}
	m.Close() // flushes the rest
	m = mustOpenJobManager(t, dir, Options{})
	if n, _ := m.UsedToday(ctx, w.ID, store.MeterAPICalls); n != 5 {
		t.Errorf("after a restart: %d, want 5", n)
	}
}

// The sender stops at the plan's emails per day and defers the rest to the
// next UTC day.
func TestSend_EmailsPerDayQuota(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	three := int64(3)
	cfg := &Config{Plans: map[string]*Plan{"default": {}, "small": {EmailsPerDay: &three}}}
	m := mustOpenJobManager(t, t.TempDir(), Options{Config: cfg, Now: aheadClock()})
	wsID, _ := outreachWorkspace(t, m, srv, 5)
	if _, err := m.SetPlan(context.Background(), wsID, "small"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := m.RunDue(context.Background(), m.now()); err != nil {
			t.Fatal(err)
		}
		waitJobsIdle(t, m, wsID)
	}
	if got := len(srv.Messages()); got != 3 {
		t.Fatalf("%d messages sent, want the plan's 3", got)
	}
	at, ok, err := store.DueAt(context.Background(), m.Catalog().R, wsID, store.DueSend)
	if err != nil || !ok {
		t.Fatalf("no send due after the quota: %v", err)
	}
	y, mo, d := m.now().UTC().Date()
	if want := time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC); !at.Equal(want) {
		t.Errorf("next send at %v, want the next UTC midnight %v", at, want)
	}
}

// waitJobsIdle waits until no job of the workspace is queued or running.
func waitJobsIdle(tb testing.TB, m *Manager, workspaceID string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		jobs, err := m.Jobs(context.Background(), workspaceID, 50)
		if err != nil {
			tb.Fatal(err)
		}
		busy := false
		for _, j := range jobs {
			busy = busy || j.State == "queued" || j.State == "running"
		}
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal("the workspace's jobs did not finish in 30 s")
}

// Invitations sent at once never pass the members quota together.
func TestInvite_ConcurrentStayWithinMembersQuota(t *testing.T) {
	three := int64(3)
	cfg := &Config{Plans: map[string]*Plan{"default": {}, "small": {Members: &three}}}
	m := mustOpenJobManager(t, t.TempDir(), Options{Config: cfg})
	w := mustCreate(t, m, "A") // no owner: no member yet
	ctx := context.Background()
	if _, err := m.SetPlan(ctx, w.ID, "small"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var sent, refused atomic.Int32
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Invite(ctx, w.ID, "member", fmt.Sprintf("p%d@example.com", i), "")
			switch store.ErrorCode(err) {
			case "":
				sent.Add(1)
			case store.EQuota:
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if sent.Load() != 3 || refused.Load() != 9 {
		t.Errorf("%d invitations sent and %d refused; want 3 and 9", sent.Load(), refused.Load())
	}
}
