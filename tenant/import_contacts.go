package tenant

import (
	"context"
	"os"
	"time"

	"atrium/store"
)

// JobImportContacts is the kind of a CSV import of contacts.
const JobImportContacts = "import.contacts"

// importTimeout bounds one import.
const importTimeout = time.Hour

// ContactImport is an uploaded CSV file to import as contacts.
type ContactImport struct {
	JobID       string
	WorkspaceID string
	Actor       store.Actor
	// Path is the uploaded file; the job removes it when it ends.
	Path   string
	Header []string
	Rows   int // data rows, for the progress
	Opts   store.ImportOptions
}

// ImportCounts is what the catalog keeps of an import's result: counts,
// never the workspace's data.
type ImportCounts struct {
	Read    int `json:"read"`
	Created int `json:"created"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// ContactImportReport is what the workspace's file keeps of an import: the
// header and the result with the refused rows as they were.
type ContactImportReport struct {
	Header []string            `json:"header"`
	Result *store.ImportResult `json:"result"`
}

// StartContactImport runs a CSV import of contacts as a job of the
// workspace. An import is kept whole or not at all (see
// store.ImportContactsCSV): a stop or a crash in the middle leaves none of
// its rows, and the job says it was interrupted.
func (m *Manager) StartContactImport(ctx context.Context, in ContactImport) (string, error) {
	if err := m.checkWorkspaceReserve(ctx, in.WorkspaceID); err != nil {
		return "", err
	}
	return m.StartJob(ctx, JobSpec{ID: in.JobID, Kind: JobImportContacts, WorkspaceID: in.WorkspaceID,
		CreatedBy: in.Actor.String(), Total: int64(in.Rows),
		Run: func(ctx context.Context, run *JobRun) (any, error) {
			defer os.Remove(in.Path)
			return m.importContacts(ctx, run, in)
		}})
}

func (m *Manager) importContacts(ctx context.Context, run *JobRun, in ContactImport) (any, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opt := in.Opts
	opt.Progress = func(rows int) { run.Progress(int64(rows), int64(in.Rows)) }
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	res, err := m.Service(run.Lease).ImportContacts(ctx, in.Actor, f, opt)
	if err != nil {
		return nil, err
	}
	// The rows are in; a report that cannot be kept is logged, not a
	// failed import.
	if err := store.SaveJobReport(ctx, run.Lease.DB, run.ID, JobImportContacts, ContactImportReport{Header: in.Header, Result: res}); err != nil {
		m.log.Error("cannot keep an import's report", "workspace", in.WorkspaceID, "job", run.ID, "err", err)
	}
	return ImportCounts{Read: res.Read, Created: res.Created, Updated: res.Updated, Skipped: res.Skipped, Failed: res.Failed}, nil
}
