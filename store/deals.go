package store

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// DealStatuses are the states of a deal.
var DealStatuses = []string{"open", "won", "lost"}

// Deal is a sale in progress, won or lost. Value is exact: minor units in
// the database, a decimal string outside.
type Deal struct {
	Seq           int64      `db:"seq" json:"-"`
	ID            string     `db:"id" json:"id"`
	Title         string     `db:"title" json:"title"`
	ValueMinor    int64      `db:"value_minor" json:"-"`
	Value         string     `db:"-" json:"value"`
	Currency      string     `db:"currency" json:"currency"`
	PipelineID    string     `db:"pipeline_id" json:"pipeline_id"`
	StageID       string     `db:"stage_id" json:"stage_id"`
	StageName     string     `db:"stage_name" json:"stage"`
	Probability   int        `db:"probability" json:"-"`
	ContactID     string     `db:"contact_id" json:"contact_id"`
	ContactName   string     `db:"contact_name" json:"-"`
	CompanyID     string     `db:"company_id" json:"company_id"`
	CompanyName   string     `db:"company_name" json:"-"`
	OwnerID       string     `db:"owner_id" json:"owner_id"`
	ExpectedClose string     `db:"expected_close" json:"expected_close"`
	Status        string     `db:"status" json:"status"`
	LostReason    string     `db:"lost_reason" json:"lost_reason"`
	ClosedAt      *time.Time `db:"closed_at" json:"closed_at"`
	Custom        Custom     `db:"custom" json:"custom"`
	Version       int64      `db:"version" json:"version"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at" json:"updated_at"`
}

// ValueText writes the deal's value for reading, e.g. "1,200.10 EUR".
func (d Deal) ValueText() string { return MoneyText(d.ValueMinor, d.Currency) }

// DealInput is a create or a partial update: nil fields are left alone.
// An update with an expected version is refused if the deal is at another.
type DealInput struct {
	Expect
	Title         *string `json:"title"`
	Value         *string `json:"value"`
	Currency      *string `json:"currency"`
	PipelineID    *string `json:"pipeline_id"`
	StageID       *string `json:"stage_id"`
	ContactID     *string `json:"contact_id"`
	CompanyID     *string `json:"company_id"`
	OwnerID       *string `json:"owner_id"`
	ExpectedClose *string `json:"expected_close"`
	Status        *string `json:"status"`
	LostReason    *string `json:"lost_reason"`
	// Custom sets custom field values by key; a null or empty value
	// clears one, keys left out stay.
	Custom map[string]any `json:"custom"`
}

const dealSelect = `SELECT d.seq, d.id, d.title, d.value_minor, d.currency, d.pipeline_id, d.stage_id,
	s.name AS stage_name, s.probability, coalesce(d.contact_id, '') AS contact_id,
	coalesce(trim(c.first_name || ' ' || c.last_name), '') AS contact_name,
	coalesce(d.company_id, '') AS company_id, coalesce(co.name, '') AS company_name,
	d.owner_id, d.expected_close, d.status, d.lost_reason, d.closed_at, d.custom, d.version, d.created_at, d.updated_at
	FROM deals d JOIN stages s ON s.id = d.stage_id
	LEFT JOIN contacts c ON c.id = d.contact_id LEFT JOIN companies co ON co.id = d.company_id`

// GetDeal returns one deal.
func GetDeal(ctx context.Context, db *DB, id string) (*Deal, error) {
	return getDeal(ctx, db.R, id)
}

func getDeal(ctx context.Context, q sqlx.QueryerContext, id string) (*Deal, error) {
	var d Deal
	if err := getOne(ctx, q, &d, "deal", dealSelect+` WHERE d.id = ?`, id); err != nil {
		return nil, err
	}
	d.Value = FormatMoney(d.ValueMinor, d.Currency)
	return &d, nil
}

// CreateDeal adds a deal; without a pipeline or stage it goes to the first
// stage of the first pipeline.
func CreateDeal(ctx context.Context, db *DB, a Actor, in DealInput) (*Deal, error) {
	if _, err := Pipelines(ctx, db); err != nil { // makes the first pipeline if none
		return nil, err
	}
	now := time.Now().UTC()
	d := &Deal{ID: newID(), Currency: "EUR", Status: "open", Custom: Custom{}, CreatedAt: now, UpdatedAt: now}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		return createDeal(ctx, tx, a, d, in)
	})
	if err != nil {
		return nil, err
	}
	return getDeal(ctx, db.W, d.ID)
}

// createDeal applies in to d and inserts it in tx (an import creates deals
// too).
func createDeal(ctx context.Context, tx *sqlx.Tx, a Actor, d *Deal, in DealInput) error {
	if err := applyDealInput(ctx, tx, d, in); err != nil {
		return err
	}
	if d.Title == "" {
		return FieldError("title", "The deal needs a title.")
	}
	_, err := tx.NamedExecContext(ctx, `INSERT INTO deals (id, title, value_minor, currency, pipeline_id, stage_id, contact_id, company_id,
		owner_id, expected_close, status, lost_reason, closed_at, custom, created_at, updated_at)
		VALUES (:id, :title, :value_minor, :currency, :pipeline_id, :stage_id, nullif(:contact_id, ''), nullif(:company_id, ''),
		:owner_id, :expected_close, :status, :lost_reason, :closed_at, :custom, :created_at, :updated_at)`, d)
	if err != nil {
		return err
	}
	return auditAbout(ctx, tx, a, d.ContactID, "deal.create", KindDeal, d.ID, dealChanges(&Deal{}, d))
}

// UpdateDeal applies a partial update, moves between stages included.
func UpdateDeal(ctx context.Context, db *DB, a Actor, id string, in DealInput) (*Deal, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getDeal(ctx, tx, id)
		if err != nil {
			return err
		}
		d := *before
		if err := applyDealInput(ctx, tx, &d, in); err != nil {
			return err
		}
		if d.Title == "" {
			return FieldError("title", "The deal needs a title.")
		}
		changes := dealChanges(before, &d)
		if len(changes) == 0 {
			return in.Check("deal", before.Version)
		}
		d.UpdatedAt = time.Now().UTC()
		err = updateRow(ctx, tx, "deals", "deal", id, in.Expect, `title = :title, value_minor = :value_minor, currency = :currency,
			pipeline_id = :pipeline_id, stage_id = :stage_id, contact_id = nullif(:contact_id, ''), company_id = nullif(:company_id, ''),
			owner_id = :owner_id, expected_close = :expected_close, status = :status, lost_reason = :lost_reason,
			closed_at = :closed_at, custom = :custom, updated_at = :updated_at`, &d)
		if err != nil {
			return err
		}
		return auditRelink(ctx, tx, a, KindDeal, id, before.ContactID, d.ContactID, changes)
	})
	if err != nil {
		return nil, err
	}
	return getDeal(ctx, db.W, id)
}

// DeleteDeal removes a deal.
func DeleteDeal(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getDeal(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deals WHERE id = ?`, id); err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, before.ContactID, "deal.delete", KindDeal, id, dealChanges(before, &Deal{}))
	})
}

// applyDealInput validates in and copies it onto d. Every reference must be
// to a record of this workspace's file; anything else is a field error.
func applyDealInput(ctx context.Context, tx *sqlx.Tx, d *Deal, in DealInput) error {
	var err error
	if in.Title != nil {
		if d.Title, err = cleanText("title", "The title", *in.Title, maxRecordTitle); err != nil {
			return err
		}
	}
	if in.Currency != nil {
		if d.Currency, err = cleanCurrency(*in.Currency); err != nil {
			return err
		}
	}
	if in.Value != nil || in.Currency != nil {
		value := FormatMoney(d.ValueMinor, d.Currency)
		if in.Value != nil {
			value = *in.Value
		}
		if d.ValueMinor, err = ParseMoney(value, d.Currency); err != nil {
			return err
		}
	}
	if err := applyDealStage(ctx, tx, d, in); err != nil {
		return err
	}
	if in.ContactID != nil {
		if d.ContactID, err = refIn(ctx, tx, "contacts", "contact_id", "contact", *in.ContactID); err != nil {
			return err
		}
	}
	if in.CompanyID != nil {
		if d.CompanyID, err = refIn(ctx, tx, "companies", "company_id", "company", *in.CompanyID); err != nil {
			return err
		}
	}
	if in.OwnerID != nil {
		d.OwnerID = strings.TrimSpace(*in.OwnerID)
	}
	if in.ExpectedClose != nil {
		if d.ExpectedClose, err = cleanDate("expected_close", "The expected close date", *in.ExpectedClose); err != nil {
			return err
		}
	}
	if in.LostReason != nil {
		if d.LostReason, err = cleanText("lost_reason", "The lost reason", *in.LostReason, maxLostReason); err != nil {
			return err
		}
	}
	if in.Custom != nil {
		defs, err := customFields(ctx, tx, KindDeal)
		if err != nil {
			return err
		}
		if d.Custom, err = applyCustom(defs, d.Custom, in.Custom); err != nil {
			return err
		}
	}
	return applyDealStatus(d, in)
}

// applyDealStage resolves the pipeline and stage: a stage must belong to
// the deal's pipeline; a new pipeline without a stage starts at its first.
func applyDealStage(ctx context.Context, tx *sqlx.Tx, d *Deal, in DealInput) error {
	if in.PipelineID != nil && *in.PipelineID != "" {
		var n int
		tx.GetContext(ctx, &n, `SELECT count(*) FROM pipelines WHERE id = ?`, *in.PipelineID)
		if n == 0 {
			return FieldError("pipeline_id", "No pipeline with this id exists in this workspace.")
		}
		if *in.PipelineID != d.PipelineID && in.StageID == nil {
			d.StageID = ""
		}
		d.PipelineID = *in.PipelineID
	}
	if d.PipelineID == "" {
		if err := tx.GetContext(ctx, &d.PipelineID, `SELECT id FROM pipelines ORDER BY position, seq LIMIT 1`); err != nil {
			return err
		}
	}
	if in.StageID != nil && *in.StageID != "" {
		var pipeline string
		if err := getOne(ctx, tx, &pipeline, "stage", `SELECT pipeline_id FROM stages WHERE id = ?`, *in.StageID); err != nil {
			return FieldError("stage_id", "No stage with this id exists in this workspace.")
		}
		if pipeline != d.PipelineID {
			return FieldError("stage_id", "The stage belongs to another pipeline.")
		}
		d.StageID = *in.StageID
	}
	if d.StageID == "" {
		return tx.GetContext(ctx, &d.StageID, `SELECT id FROM stages WHERE pipeline_id = ? ORDER BY position, seq LIMIT 1`, d.PipelineID)
	}
	return nil
}

// applyDealStatus sets the status; closing stamps closed_at, reopening clears it.
func applyDealStatus(d *Deal, in DealInput) error {
	if in.Status == nil {
		return nil
	}
	if !contains(DealStatuses, *in.Status) {
		return FieldError("status", "The status must be open, won or lost.")
	}
	if *in.Status != d.Status {
		if *in.Status == "open" {
			d.ClosedAt = nil
		} else {
			now := time.Now().UTC()
			d.ClosedAt = &now
		}
	}
	d.Status = *in.Status
	if d.Status != "lost" {
		d.LostReason = ""
	}
	return nil
}

// refIn checks that id ("" clears) is a record of table in this workspace.
func refIn(ctx context.Context, tx *sqlx.Tx, table, field, what, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", nil
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+table+` WHERE id = ?`, id); err != nil {
		return "", err
	}
	if n == 0 {
		return "", FieldError(field, "No %s with this id exists in this workspace.", what)
	}
	return id, nil
}

// cleanDate checks an optional YYYY-MM-DD date.
func cleanDate(field, label, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", FieldError(field, "%s must be a date written YYYY-MM-DD.", label)
	}
	return s, nil
}

func dealChanges(before, after *Deal) map[string]Change {
	ch := map[string]Change{}
	diff(ch, "title", before.Title, after.Title)
	beforeValue, afterValue := "", ""
	if before.ID != "" {
		beforeValue = FormatMoney(before.ValueMinor, before.Currency) + " " + before.Currency
	}
	if after.ID != "" {
		afterValue = FormatMoney(after.ValueMinor, after.Currency) + " " + after.Currency
	}
	diff(ch, "value", beforeValue, afterValue)
	diff(ch, "pipeline_id", before.PipelineID, after.PipelineID)
	diff(ch, "stage_id", before.StageID, after.StageID)
	diff(ch, "contact_id", before.ContactID, after.ContactID)
	diff(ch, "company_id", before.CompanyID, after.CompanyID)
	diff(ch, "owner_id", before.OwnerID, after.OwnerID)
	diff(ch, "expected_close", before.ExpectedClose, after.ExpectedClose)
	diff(ch, "status", before.Status, after.Status)
	diff(ch, "lost_reason", before.LostReason, after.LostReason)
	customChange(ch, before.Custom, after.Custom)
	return ch
}

// DealFilter selects deals; zero values mean any.
type DealFilter struct {
	Query      string
	PipelineID string
	StageID    string
	Status     string
	OwnerID    string
	ContactID  string
	CompanyID  string
	CloseFrom  string // expected close on or after, YYYY-MM-DD
	CloseTo    string // expected close on or before
	Cursor     string
	Limit      int
}

// where builds the filter's conditions, the cursor's excepted.
func (f DealFilter) where() clause {
	var w clause
	w.match("d.seq", "deals_fts", f.Query)
	w.eq("d.pipeline_id", f.PipelineID)
	w.eq("d.stage_id", f.StageID)
	w.eq("d.status", f.Status)
	w.eq("d.owner_id", f.OwnerID)
	w.eq("d.contact_id", f.ContactID)
	w.eq("d.company_id", f.CompanyID)
	if f.CloseFrom != "" {
		w.and("d.expected_close <> '' AND d.expected_close >= ?", f.CloseFrom)
	}
	if f.CloseTo != "" {
		w.and("d.expected_close <> '' AND d.expected_close <= ?", f.CloseTo)
	}
	return w
}

// ListDeals returns deals newest first, keyset-paginated.
func ListDeals(ctx context.Context, db *DB, f DealFilter) ([]Deal, string, error) {
	deals, next, err := listKeyset(ctx, db, keysetPage[Deal]{
		selectSQL: dealSelect, where: f.where(), sort: bySeq("d.seq"),
		cursor: f.Cursor, limit: f.Limit,
		key: func(d Deal) cursor { return cursor{d.Seq} },
	})
	if err != nil {
		return nil, "", err
	}
	for i := range deals {
		deals[i].Value = FormatMoney(deals[i].ValueMinor, deals[i].Currency)
	}
	return deals, next, nil
}
