package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sequenceFixture is a workspace with two mailboxes and two templates.
type sequenceFixture struct {
	db       *DB
	mb1, mb2 string
	t1, t2   string
}

func newSequenceFixture(t *testing.T) *sequenceFixture {
	db := MustOpenWorkspace(t)
	f := &sequenceFixture{db: db}
	in := validMailbox()
	f.mb1 = mustMailbox(t, db, in).ID
	in.Name = ptr("Second")
	f.mb2 = mustMailbox(t, db, in).ID
	for i, name := range []string{"Intro", "Follow-up"} {
		tp, err := CreateTemplate(context.Background(), db, tester, TemplateInput{Name: ptr(name), Subject: ptr("Hi {{first_name}}"), Body: ptr("Hello")})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.t1 = tp.ID
		} else {
			f.t2 = tp.ID
		}
	}
	return f
}

func (f *sequenceFixture) sequence(t *testing.T) *Sequence {
	t.Helper()
	s, err := CreateSequence(context.Background(), f.db, tester, SequenceInput{Name: ptr("Launch"), MailboxIDs: &[]string{f.mb1, f.mb2},
		Steps: &[]StepInput{{Kind: StepEmail, TemplateID: f.t1, VariantID: f.t2}, {Kind: StepWait, WaitMinutes: 60 * 24 * 3, BusinessDays: true},
			{Kind: StepTask, TaskTitle: "Call them"}, {Kind: StepEmail, TemplateID: f.t2}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSequences_CreateAndValidate(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t)
	if s.State != SequenceDraft || len(s.Steps) != 4 || s.Steps[0].VariantID.String != f.t2 || s.Steps[2].TaskTitle != "Call them" ||
		len(s.MailboxIDs) != 2 || !s.StopOnReply {
		t.Fatalf("%+v", s)
	}
	for _, tc := range []struct {
		steps []StepInput
		field string
	}{
		{[]StepInput{{Kind: StepEmail}}, "steps.0"},
		{[]StepInput{{Kind: StepWait}, {Kind: StepEmail, TemplateID: "0190b2a0-0000-7000-8000-000000000000"}}, "steps.1"},
		{[]StepInput{{Kind: StepWait, WaitMinutes: -1}}, "steps.0"},
		{[]StepInput{{Kind: StepTask}}, "steps.0"},
		{[]StepInput{{Kind: "sms"}}, "steps.0"},
	} {
		_, err := UpdateSequence(ctx, f.db, tester, s.ID, SequenceInput{Steps: &tc.steps})
		if ErrorField(err) != tc.field {
			t.Errorf("steps %+v: %v (field %q), want field %s", tc.steps, err, ErrorField(err), tc.field)
		}
	}
	if _, err := UpdateSequence(ctx, f.db, tester, s.ID, SequenceInput{MailboxIDs: &[]string{"nope"}}); ErrorField(err) != "mailbox_ids" {
		t.Errorf("unknown mailbox: %v", err)
	}
	if _, err := CreateSequence(ctx, f.db, tester, SequenceInput{Name: ptr("launch")}); ErrorField(err) != "name" {
		t.Errorf("a second sequence of the same name: %v", err)
	}
	// A template or mailbox in use cannot be deleted.
	if err := DeleteTemplate(ctx, f.db, tester, f.t2); err == nil {
		t.Error("a template a step uses was deleted")
	}
	if err := DeleteMailbox(ctx, f.db, tester, f.mb1); ErrorCode(err) != EConflict || !strings.Contains(err.Error(), "Launch") {
		t.Errorf("a mailbox a sequence uses: %v", err)
	}
	// Activation needs mailboxes and steps.
	empty, _ := CreateSequence(ctx, f.db, tester, SequenceInput{Name: ptr("Empty")})
	if _, err := SetSequenceState(ctx, f.db, tester, empty.ID, SequenceActive); ErrorCode(err) != EConflict {
		t.Errorf("activating a sequence without mailboxes: %v", err)
	}
	if got, err := SetSequenceState(ctx, f.db, tester, s.ID, SequenceActive); err != nil || got.State != SequenceActive {
		t.Fatalf("activate: %+v, %v", got, err)
	}
}

func TestEnroll_SkipsWithReasonsAndSpreads(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t)
	var ids []string
	for i := range 6 {
		ids = append(ids, mustContact(t, f.db, ContactInput{FirstName: ptr("P"), Email: ptr("p" + string(rune('a'+i)) + "@example.com")}).ID)
	}
	noEmail := mustContact(t, f.db, ContactInput{FirstName: ptr("Nomail")}).ID
	suppressed := func(emails []string) (map[string]string, error) {
		out := map[string]string{}
		for _, e := range emails {
			switch e {
			case "pe@example.com":
				out[e] = SkipSuppressed
			case "pf@example.com":
				out[e] = SkipBounced
			}
		}
		return out, nil
	}
	now := time.Now()
	res, err := Enroll(ctx, f.db, tester, s.ID, append(ids, noEmail, "0190b2a0-0000-7000-8000-000000000000", ids[0]), suppressed, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{noEmail: SkipNoEmail, "0190b2a0-0000-7000-8000-000000000000": SkipNotFound, ids[4]: SkipSuppressed, ids[5]: SkipBounced}
	if res.Enrolled != 4 || len(res.Skipped) != len(want) {
		t.Fatalf("%+v", res)
	}
	for _, sk := range res.Skipped {
		if want[sk.ContactID] != sk.Reason {
			t.Errorf("skipped %s for %s, want %s", sk.ContactID, sk.Reason, want[sk.ContactID])
		}
	}
	again, _ := Enroll(ctx, f.db, tester, s.ID, ids[:1], nil, now)
	if again.Enrolled != 0 || again.Skipped[0].Reason != SkipAlreadyEnrolled {
		t.Fatalf("enrolled twice: %+v", again)
	}
	list, _, err := ListEnrollments(ctx, f.db, s.ID, "", "", 50)
	if err != nil || len(list) != 4 {
		t.Fatal(len(list), err)
	}
	perMailbox, perVariant := map[string]int{}, map[string]int{}
	for _, e := range list {
		perMailbox[e.MailboxID]++
		perVariant[e.Variant]++
		if e.NextAt().After(now.Add(time.Second)) || e.DonePosition != -1 || e.ContactEmail == "" {
			t.Errorf("%+v", e)
		}
	}
	if perMailbox[f.mb1] != 2 || perMailbox[f.mb2] != 2 || perVariant["a"] != 2 || perVariant["b"] != 2 {
		t.Fatalf("not spread evenly: mailboxes %v, variants %v", perMailbox, perVariant)
	}
	// Pause, resume, stop; a stopped one stays stopped.
	e := list[0]
	for _, st := range []string{EnrollmentPaused, EnrollmentActive, EnrollmentStopped} {
		got, err := SetEnrollmentState(ctx, f.db, tester, e.ID, st, "", now)
		if err != nil || got.State != st {
			t.Fatalf("%s: %+v, %v", st, got, err)
		}
	}
	if _, err := SetEnrollmentState(ctx, f.db, tester, e.ID, EnrollmentActive, "", now); ErrorCode(err) != EConflict {
		t.Fatalf("resuming a stopped enrollment: %v", err)
	}
	// An archived sequence takes nobody.
	if _, err := SetSequenceState(ctx, f.db, tester, s.ID, SequenceArchived); err != nil {
		t.Fatal(err)
	}
	if _, err := Enroll(ctx, f.db, tester, s.ID, ids[4:5], nil, now); ErrorCode(err) != EConflict {
		t.Fatalf("enrolling into an archived sequence: %v", err)
	}
}

// Editing a live sequence changes only what an enrollment has not reached:
// steps that stay keep their ids and positions (so the ledger still knows
// what was sent for them), new ones fall between their neighbours.
func TestSequences_EditLive(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t) // email, wait, task, email
	c := mustContact(t, f.db, ContactInput{FirstName: ptr("Live"), Email: ptr("live@example.com")})
	if _, err := Enroll(ctx, f.db, tester, s.ID, []string{c.ID}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	list, _, _ := ListEnrollments(ctx, f.db, s.ID, "", "", 1)
	e := list[0]
	// The enrollment did the first email and the wait.
	if err := ScheduleEnrollment(ctx, f.db, e.ID, s.Steps[1].Position, time.Now()); err != nil {
		t.Fatal(err)
	}
	in := func(st Step) StepInput {
		return StepInput{ID: st.ID, Kind: st.Kind, TemplateID: st.TemplateID.String, VariantID: st.VariantID.String,
			WaitMinutes: st.WaitMinutes, TaskTitle: st.TaskTitle}
	}
	// Remove the first email, insert a task before the last email, append a wait.
	steps := []StepInput{in(s.Steps[1]), in(s.Steps[2]), {Kind: StepTask, TaskTitle: "Inserted"}, in(s.Steps[3]), {Kind: StepWait, WaitMinutes: 5}}
	got, err := UpdateSequence(ctx, f.db, tester, s.ID, SequenceInput{Steps: &steps})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Steps) != 5 || got.Steps[0].ID != s.Steps[1].ID || got.Steps[3].ID != s.Steps[3].ID || got.Steps[3].Position != s.Steps[3].Position {
		t.Fatalf("steps %+v", got.Steps)
	}
	if !(got.Steps[2].Position > s.Steps[2].Position && got.Steps[2].Position < s.Steps[3].Position) {
		t.Fatalf("the inserted step is at %v, not between %v and %v", got.Steps[2].Position, s.Steps[2].Position, s.Steps[3].Position)
	}
	// The enrollment goes on with the task it had not reached, then the
	// inserted one.
	var order []string
	done := s.Steps[1].Position
	for {
		st, err := NextStep(ctx, f.db, s.ID, done)
		if err != nil {
			t.Fatal(err)
		}
		if st == nil {
			break
		}
		order = append(order, st.Kind+":"+st.TaskTitle)
		done = st.Position
	}
	if strings.Join(order, ",") != "task:Call them,task:Inserted,email:,wait:" {
		t.Fatalf("the enrollment's next steps: %v", order)
	}
	if after, _, _ := ListEnrollments(ctx, f.db, s.ID, "", "", 1); after[0].StepsDone != 1 {
		t.Fatalf("steps done %d, want 1 (the wait; the email it did was removed)", after[0].StepsDone)
	}
	// Steps that stay cannot be reordered.
	swapped := []StepInput{in(got.Steps[1]), in(got.Steps[0])}
	if _, err := UpdateSequence(ctx, f.db, tester, s.ID, SequenceInput{Steps: &swapped}); ErrorField(err) != "steps.1" {
		t.Fatalf("a reorder: %v", err)
	}
}

// A reply stops the replier's enrollments in sequences that stop on reply,
// and, where a sequence stops by domain, their colleagues'.
func TestStopOnReply(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	byDomain := f.sequence(t)
	stop := true
	if _, err := UpdateSequence(ctx, f.db, tester, byDomain.ID, SequenceInput{StopByDomain: &stop}); err != nil {
		t.Fatal(err)
	}
	keepOn := false
	other, err := CreateSequence(ctx, f.db, tester, SequenceInput{Name: ptr("Newsletter"), StopOnReply: &keepOn, MailboxIDs: &[]string{f.mb1}})
	if err != nil {
		t.Fatal(err)
	}
	ana := mustContact(t, f.db, ContactInput{Email: ptr("ana@acme.example")}).ID
	bo := mustContact(t, f.db, ContactInput{Email: ptr("Bo@ACME.example")}).ID
	cy := mustContact(t, f.db, ContactInput{Email: ptr("cy@other.example")}).ID
	for _, s := range []string{byDomain.ID, other.ID} {
		if _, err := Enroll(ctx, f.db, tester, s, []string{ana, bo, cy}, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := StopOnReply(ctx, f.db, tester, ana)
	if err != nil || n != 2 {
		t.Fatalf("stopped %d, %v; want ana's and bo's in the sequence that stops by domain", n, err)
	}
	for _, s := range []struct {
		seq     string
		stopped int
	}{{byDomain.ID, 2}, {other.ID, 0}} {
		list, _, _ := ListEnrollments(ctx, f.db, s.seq, EnrollmentStopped, "", 10)
		if len(list) != s.stopped {
			t.Errorf("sequence %s: %d stopped, want %d", s.seq, len(list), s.stopped)
		}
	}

	// People at a public mail provider are not colleagues.
	dee := mustContact(t, f.db, ContactInput{Email: ptr("dee@gmail.com")}).ID
	eve := mustContact(t, f.db, ContactInput{Email: ptr("eve@gmail.com")}).ID
	if _, err := Enroll(ctx, f.db, tester, byDomain.ID, []string{dee, eve}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := StopOnReply(ctx, f.db, tester, dee); err != nil || n != 1 {
		t.Fatalf("a reply from gmail.com stopped %d, %v; want the replier's only", n, err)
	}
}

// A workspace taken in from an archive has its accounts' secrets emptied
// and its sequences paused: nothing is sent, or failed for want of a
// password, before someone enters them and resumes.
func TestImport_PausesSending(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t)
	if _, err := SetSequenceState(ctx, f.db, tester, s.ID, SequenceActive); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "export.zip")
	out, _ := os.Create(archive)
	if _, err := ExportWorkspace(ctx, f.db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), out, nil); err != nil {
		t.Fatal(err)
	}
	out.Close()
	p, _, err := ExtractArchive(archive, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateImport(ctx, p); err != nil {
		t.Fatal(err)
	}
	db, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := GetSequence(ctx, db, s.ID)
	if err != nil || got.State != SequencePaused {
		t.Fatalf("imported sequence %+v, %v", got, err)
	}
	var secrets int
	db.R.Get(&secrets, `SELECT count(*) FROM mailboxes WHERE password <> ''`)
	if secrets != 0 {
		t.Fatal("a sealed password came in")
	}
}
