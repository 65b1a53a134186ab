package tenant

import (
	"context"

	"atrium/store"
)

// JobBulkContacts is the kind of a bulk action on every contact a filter
// matches, too many to change in the request.
const JobBulkContacts = "bulk.contacts"

// BulkContactsJob is a bulk action to run on the contacts a filter matches.
type BulkContactsJob struct {
	WorkspaceID string
	Actor       store.Actor
	Filter      store.ContactFilter
	Action      store.BulkAction
	Matching    int // contacts the filter matched when it was asked, for the progress
}

// BulkContactsReport is what the workspace's file keeps of a bulk job: the
// action (its tag or stage is the workspace's data, so not in the
// catalog's result) and what it did, or how far it got before it failed.
type BulkContactsReport struct {
	Action store.BulkAction `json:"action"`
	Result store.BulkResult `json:"result"`
	Error  string           `json:"error,omitempty"`
}

// StartBulkContacts checks the action and runs it as a job of the
// workspace, store.BulkBatch contacts per transaction, with the rules of
// Service.BulkContacts; the catalog's result is the counts only.
func (m *Manager) StartBulkContacts(ctx context.Context, svc *Service, in BulkContactsJob) (string, error) {
	// Checked now, so a bad action is refused at once; checked again when
	// the job runs, as membership may have changed meanwhile.
	if _, err := svc.BulkAction(ctx, in.Action); err != nil {
		return "", err
	}
	if err := m.checkWorkspaceReserve(ctx, in.WorkspaceID); err != nil {
		return "", err
	}
	return m.StartJob(ctx, JobSpec{Kind: JobBulkContacts, WorkspaceID: in.WorkspaceID,
		CreatedBy: in.Actor.String(), Total: int64(in.Matching),
		Run: func(ctx context.Context, run *JobRun) (any, error) {
			total := int64(in.Matching)
			res, err := m.Service(run.Lease).BulkContactsMatching(ctx, in.Actor, in.Filter, in.Action, func(done int) {
				run.Progress(int64(done), max(total, int64(done)))
			})
			rep := BulkContactsReport{Action: in.Action, Result: res}
			if err != nil {
				rep.Error = store.ErrorMessage(err)
			}
			if serr := store.SaveJobReport(context.WithoutCancel(ctx), run.Lease.DB, run.ID, JobBulkContacts, rep); serr != nil {
				m.log.Error("cannot keep a bulk job's report", "workspace", in.WorkspaceID, "job", run.ID, "err", serr)
			}
			return res, err
		}})
}
