package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"atrium/store"
)

// nearQuota is the share of a quota from which pages warn that a
// workspace is near it.
const nearQuota = 0.8

// QuotaUse is a workspace's use of one quota of its plan.
type QuotaUse struct {
	Quota   Quota
	Limited bool // false: the plan sets no limit
	Limit   int64
	Used    int64
}

// Near says whether the use has reached 80% of the limit.
func (u QuotaUse) Near() bool { return u.Limited && float64(u.Used) >= nearQuota*float64(u.Limit) }

// Percent is the use as a whole percentage of the limit (100 when the
// limit is 0).
func (u QuotaUse) Percent() int {
	if !u.Limited {
		return 0
	}
	if u.Limit <= 0 {
		return 100
	}
	return int(min(100, u.Used*100/u.Limit))
}

// quotaMeter is the usage_daily meter of each daily quota.
var quotaMeter = map[Quota]string{
	QuotaEmailsPerDay:   store.MeterEmailsSent,
	QuotaAPICallsPerDay: store.MeterAPICalls,
	QuotaImportsPerDay:  store.MeterImports,
}

// quotaError is the refusal of a write that would pass a quota: it names
// the quota, its limit and the use now.
func quotaError(q Quota, limit, used int64) error {
	return refusal{q, limit, used, store.Errorf(store.EQuota, "This workspace's plan allows %d %s and it has used %d; ask an instance administrator for a larger plan.",
		limit, q.Label(), used)}
}

// refusal is a quota's domain error that remembers which quota it is (for
// the metrics), its limit and the use it found.
type refusal struct {
	quota       Quota
	limit, used int64
	err         *store.Error
}

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// QuotaOf names the quota that refused err ("" when none did).
func QuotaOf(err error) string {
	var r refusal
	if errors.As(err, &r) {
		return string(r.quota)
	}
	return ""
}

// used returns the workspace's use of q now. db is the workspace's file,
// for the quotas it answers (contacts, storage); the catalog answers the
// others.
func (m *Manager) used(ctx context.Context, workspaceID string, db *store.DB, q Quota) (int64, error) {
	if meter, ok := quotaMeter[q]; ok {
		return m.UsedToday(ctx, workspaceID, meter)
	}
	switch q {
	case QuotaContacts:
		n, err := store.CountContacts(ctx, db, store.ContactFilter{})
		return int64(n), err
	case QuotaStorageMB:
		return dbFileBytes(db.Path) >> 20, nil
	case QuotaMembers:
		return store.MemberAndInvitationCount(ctx, m.catalog.R, workspaceID)
	}
	return 0, fmt.Errorf("unknown quota %s", q)
}

// checkQuota refuses adding n to the workspace's use of q when that would
// pass its plan's limit. Storage is checked as full or not: a write adds
// an unknown number of bytes.
func (m *Manager) checkQuota(ctx context.Context, workspaceID string, db *store.DB, q Quota, n int64) error {
	p, err := m.Plan(ctx, workspaceID)
	if err != nil {
		return err
	}
	limit, ok := p.Limit(q)
	if !ok {
		return nil
	}
	used, err := m.used(ctx, workspaceID, db, q)
	if err != nil {
		return err
	}
	if used+n > limit || (q == QuotaStorageMB && used >= limit) {
		return quotaError(q, limit, used)
	}
	return nil
}

// QuotaUses returns the workspace's use of every quota, for its settings
// page.
func (s *Service) QuotaUses(ctx context.Context) (*Plan, []QuotaUse, error) {
	p, err := s.m.Plan(ctx, s.lease.ID)
	if err != nil {
		return nil, nil, err
	}
	uses := make([]QuotaUse, 0, len(Quotas))
	for _, q := range Quotas {
		u := QuotaUse{Quota: q}
		u.Limit, u.Limited = p.Limit(q)
		if u.Used, err = s.m.used(ctx, s.lease.ID, s.lease.DB, q); err != nil {
			return nil, nil, err
		}
		uses = append(uses, u)
	}
	return p, uses, nil
}

// CheckQuota refuses adding n to the workspace's use of q past its plan.
func (s *Service) CheckQuota(ctx context.Context, q Quota, n int64) error {
	return s.m.checkQuota(ctx, s.lease.ID, s.lease.DB, q, n)
}

// CheckWrite refuses a write to a workspace whose file has reached its
// storage quota; deleting stays possible, to make room.
func (s *Service) CheckWrite(ctx context.Context) error {
	return s.CheckQuota(ctx, QuotaStorageMB, 0)
}

// CountAPICall counts one API call, refusing it when the day's quota is
// used up.
func (s *Service) CountAPICall(ctx context.Context) error {
	if err := s.CheckQuota(ctx, QuotaAPICallsPerDay, 1); err != nil {
		return err
	}
	s.m.CountUsage(s.lease.ID, store.MeterAPICalls, 1)
	return nil
}

// StartingImport counts an import of up to rows new contacts, refusing it
// before it starts when it would pass the imports of the day or the
// contacts of the plan. Rows that update existing contacts are counted
// too: the check is made before the file is read. rows < 0 is not known
// yet (a CSV streamed to the API): the import's own last check
// (createdCheck) refuses it whole if it creates too many.
func (s *Service) StartingImport(ctx context.Context, rows int64) error {
	if err := s.CheckQuota(ctx, QuotaImportsPerDay, 1); err != nil {
		return err
	}
	if rows >= 0 {
		if err := s.checkContactsForImport(ctx, rows); err != nil {
			return err
		}
	}
	s.m.CountUsage(s.lease.ID, store.MeterImports, 1)
	return nil
}

func (s *Service) checkContactsForImport(ctx context.Context, rows int64) error {
	err := s.CheckQuota(ctx, QuotaContacts, rows)
	var r refusal
	if !errors.As(err, &r) {
		return err
	}
	return refusal{QuotaContacts, r.limit, r.used, store.Errorf(store.EQuota, "This file has %d rows and the workspace has %d contacts; its plan allows %d contacts. Import at most %d rows, or ask an instance administrator for a larger plan.",
		rows, r.used, r.limit, max(0, r.limit-r.used))}
}

// createdCheck is the import's last check (store.ImportOptions.CheckCreated):
// the contacts it creates must still fit the plan.
func (s *Service) createdCheck(ctx context.Context) (func(int) error, error) {
	p, err := s.m.Plan(ctx, s.lease.ID)
	if err != nil {
		return nil, err
	}
	limit, ok := p.Limit(QuotaContacts)
	if !ok {
		return nil, nil
	}
	before, err := s.m.used(ctx, s.lease.ID, s.lease.DB, QuotaContacts)
	if err != nil {
		return nil, err
	}
	return func(created int) error {
		if before+int64(created) > limit {
			return quotaError(QuotaContacts, limit, before)
		}
		return nil
	}, nil
}

// SendingAllowed is the sender's daily quota check: the zero time when the
// workspace may send now, else the next UTC midnight.
func (s *Service) SendingAllowed(ctx context.Context) (time.Time, error) {
	err := s.CheckQuota(ctx, QuotaEmailsPerDay, 1)
	if store.ErrorCode(err) == store.EQuota {
		y, mo, d := s.m.now().UTC().Date()
		return time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC), nil
	}
	return time.Time{}, err
}

// CountSent counts a delivered email against the daily quota.
func (s *Service) CountSent() { s.m.CountUsage(s.lease.ID, store.MeterEmailsSent, 1) }

// Invite makes an invitation link's token for a role in a workspace, within
// its plan's members: a pending invitation holds a seat, so accepting it
// adds no one.
func (m *Manager) Invite(ctx context.Context, workspaceID, role, email, createdBy string) (string, error) {
	// One invitation at a time: two at once would both find room for one.
	m.inviting.Lock()
	defer m.inviting.Unlock()
	if err := m.checkQuota(ctx, workspaceID, nil, QuotaMembers, 1); err != nil {
		return "", err
	}
	return store.CreateInvitation(ctx, m.catalog, workspaceID, role, email, createdBy)
}

// ConsoleUse is what the console shows of a workspace's plan: its name and
// the quotas at 80% or more of their limit. Only the catalog and file
// sizes are read (no workspace file opens), so the contacts quota, which
// the workspace file counts, is left out.
type ConsoleUse struct {
	Plan string
	Near []QuotaUse
}

// ConsoleUses returns the console's view of the plans of infos.
func (m *Manager) ConsoleUses(ctx context.Context, infos []Info, members map[string]int) ([]ConsoleUse, error) {
	today, err := store.UsageOfDay(ctx, m.catalog.R, store.UsageDay(m.now()))
	if err != nil {
		return nil, err
	}
	out := make([]ConsoleUse, len(infos))
	for i, info := range infos {
		p, err := m.Plan(ctx, info.ID)
		if err != nil {
			return nil, err
		}
		out[i].Plan = p.Name
		used := map[Quota]int64{QuotaStorageMB: info.SizeBytes >> 20, QuotaMembers: int64(members[info.ID])}
		for q, meter := range quotaMeter {
			used[q] = today[info.ID][meter] + m.pendingUsage(info.ID, meter)
		}
		for _, q := range Quotas {
			u := QuotaUse{Quota: q, Used: used[q]}
			if u.Limit, u.Limited = p.Limit(q); q != QuotaContacts && u.Near() {
				out[i].Near = append(out[i].Near, u)
			}
		}
	}
	return out, nil
}
