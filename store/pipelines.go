package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Pipeline is a sales process: ordered stages that deals move through.
type Pipeline struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Position  int       `db:"position" json:"position"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
	Stages    []Stage   `db:"-" json:"stages"`
}

// Stage is one step of a pipeline with the chance a deal there is won.
type Stage struct {
	Seq         int64     `db:"seq" json:"-"`
	ID          string    `db:"id" json:"id"`
	PipelineID  string    `db:"pipeline_id" json:"pipeline_id"`
	Name        string    `db:"name" json:"name"`
	Probability int       `db:"probability" json:"probability"`
	Position    int       `db:"position" json:"position"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

// defaultStages are the stages of a new pipeline.
var defaultStages = []struct {
	name        string
	probability int
}{{"Lead in", 10}, {"Qualified", 25}, {"Proposal", 50}, {"Negotiation", 75}, {"Closing", 90}}

// Pipelines returns the workspace's pipelines with their stages, in order.
// A workspace without any gets its first one here, on first use.
func Pipelines(ctx context.Context, db *DB) ([]Pipeline, error) {
	ps, err := pipelines(ctx, db.R)
	if err != nil || len(ps) > 0 {
		return ps, err
	}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM pipelines`); err != nil || n > 0 {
			return err
		}
		_, err := createPipeline(ctx, tx, Actor{Kind: "system"}, "Sales")
		return err
	})
	if err != nil {
		return nil, err
	}
	return pipelines(ctx, db.W)
}

func pipelines(ctx context.Context, q sqlx.QueryerContext) ([]Pipeline, error) {
	var ps []Pipeline
	if err := sqlx.SelectContext(ctx, q, &ps, `SELECT * FROM pipelines ORDER BY position, seq`); err != nil {
		return nil, err
	}
	var stages []Stage
	if err := sqlx.SelectContext(ctx, q, &stages, `SELECT * FROM stages ORDER BY position, seq`); err != nil {
		return nil, err
	}
	for i := range ps {
		ps[i].Stages = []Stage{}
		for _, s := range stages {
			if s.PipelineID == ps[i].ID {
				ps[i].Stages = append(ps[i].Stages, s)
			}
		}
	}
	return ps, nil
}

// GetPipeline returns one pipeline with its stages.
func GetPipeline(ctx context.Context, db *DB, id string) (*Pipeline, error) {
	ps, err := Pipelines(ctx, db)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i], nil
		}
	}
	return nil, Errorf(ENotFound, "That pipeline does not exist.")
}

// CreatePipeline adds a pipeline with the default stages (after the
// workspace's first pipeline, which is made if it is not there yet).
func CreatePipeline(ctx context.Context, db *DB, a Actor, name string) (*Pipeline, error) {
	if _, err := Pipelines(ctx, db); err != nil {
		return nil, err
	}
	var id string
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		id, err = createPipeline(ctx, tx, a, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return GetPipeline(ctx, db, id)
}

func createPipeline(ctx context.Context, tx *sqlx.Tx, a Actor, name string) (string, error) {
	name, err := cleanName("name", "The pipeline name", name)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	id := newID()
	_, err = tx.ExecContext(ctx, `INSERT INTO pipelines (id, name, position, created_at, updated_at)
		VALUES (?, ?, (SELECT coalesce(max(position), 0) + 1 FROM pipelines), ?, ?)`, id, name, now, now)
	if err != nil {
		return "", err
	}
	for i, s := range defaultStages {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stages (id, pipeline_id, name, probability, position, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			newID(), id, s.name, s.probability, i+1, now); err != nil {
			return "", err
		}
	}
	return id, audit(ctx, tx, a, "pipeline.create", KindPipeline, id, map[string]Change{"name": {After: name}})
}

// cleanName checks a required short name.
func cleanName(field, label, s string) (string, error) {
	s, err := cleanText(field, label, s, maxShortName)
	if err == nil && s == "" {
		err = FieldError(field, "%s is empty.", label)
	}
	return s, err
}

// RenamePipeline changes a pipeline's name.
func RenamePipeline(ctx context.Context, db *DB, a Actor, id, name string) error {
	name, err := cleanName("name", "The pipeline name", name)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var before string
		if err := getOne(ctx, tx, &before, "pipeline", `SELECT name FROM pipelines WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pipelines SET name = ?, updated_at = ? WHERE id = ?`, name, time.Now().UTC(), id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "pipeline.update", KindPipeline, id, map[string]Change{"name": {Before: before, After: name}})
	})
}

// DeletePipeline removes a pipeline without deals; the last one stays.
func DeletePipeline(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var name string
		if err := getOne(ctx, tx, &name, "pipeline", `SELECT name FROM pipelines WHERE id = ?`, id); err != nil {
			return err
		}
		var pipelines, deals int
		if err := tx.GetContext(ctx, &pipelines, `SELECT count(*) FROM pipelines`); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &deals, `SELECT count(*) FROM deals WHERE pipeline_id = ?`, id); err != nil {
			return err
		}
		switch {
		case pipelines == 1:
			return Errorf(EConflict, "A workspace keeps at least one pipeline.")
		case deals == 1:
			return Errorf(EConflict, "%s has 1 deal; move or delete it first.", name)
		case deals > 0:
			return Errorf(EConflict, "%s has %d deals; move or delete them first.", name, deals)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pipelines WHERE id = ?`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "pipeline.delete", KindPipeline, id, map[string]Change{"name": {Before: name}})
	})
}

// getOne reads one value, turning "no rows" into ENotFound for the entity.
func getOne(ctx context.Context, q sqlx.QueryerContext, dest any, entity, query string, args ...any) error {
	err := sqlx.GetContext(ctx, q, dest, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Errorf(ENotFound, "That %s does not exist.", entity)
	}
	return err
}

// StageInput adds or changes a stage.
type StageInput struct {
	Name        string `json:"name"`
	Probability int    `json:"probability"`
}

func cleanStage(in StageInput) (StageInput, error) {
	name, err := cleanName("name", "The stage name", in.Name)
	if err != nil {
		return in, err
	}
	if in.Probability < 0 || in.Probability > 100 {
		return in, FieldError("probability", "The probability is a percentage from 0 to 100.")
	}
	return StageInput{Name: name, Probability: in.Probability}, nil
}

// AddStage appends a stage to a pipeline.
func AddStage(ctx context.Context, db *DB, a Actor, pipelineID string, in StageInput) (*Stage, error) {
	in, err := cleanStage(in)
	if err != nil {
		return nil, err
	}
	s := &Stage{ID: newID(), PipelineID: pipelineID, Name: in.Name, Probability: in.Probability, CreatedAt: time.Now().UTC()}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM pipelines WHERE id = ?`, pipelineID); err != nil {
			return err
		}
		if n == 0 {
			return Errorf(ENotFound, "That pipeline does not exist.")
		}
		if err := tx.GetContext(ctx, &s.Position, `SELECT coalesce(max(position), 0) + 1 FROM stages WHERE pipeline_id = ?`, pipelineID); err != nil {
			return err
		}
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO stages (id, pipeline_id, name, probability, position, created_at)
			VALUES (:id, :pipeline_id, :name, :probability, :position, :created_at)`, s); err != nil {
			return err
		}
		return audit(ctx, tx, a, "stage.create", KindStage, s.ID, map[string]Change{"name": {After: s.Name}, "probability": {After: s.Probability}})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// UpdateStage renames a stage or changes its probability.
func UpdateStage(ctx context.Context, db *DB, a Actor, id string, in StageInput) error {
	in, err := cleanStage(in)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var before Stage
		if err := getOne(ctx, tx, &before, "stage", `SELECT * FROM stages WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE stages SET name = ?, probability = ? WHERE id = ?`, in.Name, in.Probability, id); err != nil {
			return err
		}
		ch := map[string]Change{}
		diff(ch, "name", before.Name, in.Name)
		diff(ch, "probability", before.Probability, in.Probability)
		return audit(ctx, tx, a, "stage.update", KindStage, id, ch)
	})
}

// MoveStage moves a stage one place earlier (delta -1) or later (+1).
func MoveStage(ctx context.Context, db *DB, a Actor, id string, delta int) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var s Stage
		if err := getOne(ctx, tx, &s, "stage", `SELECT * FROM stages WHERE id = ?`, id); err != nil {
			return err
		}
		var ids []string
		if err := tx.SelectContext(ctx, &ids, `SELECT id FROM stages WHERE pipeline_id = ? ORDER BY position, seq`, s.PipelineID); err != nil {
			return err
		}
		i := indexOf(ids, id)
		j := i + delta
		if j < 0 || j >= len(ids) {
			return nil // already first or last
		}
		ids[i], ids[j] = ids[j], ids[i]
		for pos, sid := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE stages SET position = ? WHERE id = ?`, pos+1, sid); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "stage.move", KindStage, id, map[string]Change{"position": {Before: i + 1, After: j + 1}})
	})
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// DeleteStage removes a stage. Its deals move to moveTo, a stage of the same
// pipeline; without one, a stage that has deals is not deleted.
func DeleteStage(ctx context.Context, db *DB, a Actor, id, moveTo string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var s Stage
		if err := getOne(ctx, tx, &s, "stage", `SELECT * FROM stages WHERE id = ?`, id); err != nil {
			return err
		}
		var stages, deals int
		tx.GetContext(ctx, &stages, `SELECT count(*) FROM stages WHERE pipeline_id = ?`, s.PipelineID)
		if err := tx.GetContext(ctx, &deals, `SELECT count(*) FROM deals WHERE stage_id = ?`, id); err != nil {
			return err
		}
		if stages == 1 {
			return Errorf(EConflict, "A pipeline keeps at least one stage.")
		}
		if deals > 0 {
			if (moveTo == "" || moveTo == id) && deals == 1 {
				return FieldError("move_to", "1 deal is in %s; choose the stage it moves to.", s.Name)
			}
			if moveTo == "" || moveTo == id {
				return FieldError("move_to", "%d deals are in %s; choose the stage they move to.", deals, s.Name)
			}
			var target int
			tx.GetContext(ctx, &target, `SELECT count(*) FROM stages WHERE id = ? AND pipeline_id = ?`, moveTo, s.PipelineID)
			if target == 0 {
				return FieldError("move_to", "Deals can only move to another stage of the same pipeline.")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deals SET stage_id = ?, updated_at = ?, version = version + 1 WHERE stage_id = ?`, moveTo, time.Now().UTC(), id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM stages WHERE id = ?`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "stage.delete", KindStage, id, map[string]Change{"name": {Before: s.Name}, "deals_moved_to": {After: moveTo}})
	})
}
