package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// A saved view is a user's named list: the list's filters, sort and
// columns kept as its query string, opened from the top of the list. Views
// are each user's own preference, so every function here takes the user:
// another user's view is not found.

// ViewKind names the list a view is of.
type ViewKind string

// ViewContacts is the list of contacts, the one list with saved views.
const ViewContacts ViewKind = "contacts"

// MaxViewName bounds a view's name; MaxViewQuery its query string.
const (
	MaxViewName  = 60
	MaxViewQuery = 4000
)

// SavedView is one saved view.
type SavedView struct {
	ID        string    `db:"id"`
	UserID    string    `db:"user_id"`
	Kind      ViewKind  `db:"kind"`
	Name      string    `db:"name"`
	Query     string    `db:"query"`
	IsDefault bool      `db:"is_default"`
	CreatedAt time.Time `db:"created_at"`
}

// ListPrefs are a user's preferences for one list: their saved views, by
// name, and the columns they chose (Columns is "" and HasColumns false
// until they choose).
type ListPrefs struct {
	Views      []SavedView
	Columns    string
	HasColumns bool
}

// Default returns the user's default view, or nil.
func (p ListPrefs) Default() *SavedView {
	for i := range p.Views {
		if p.Views[i].IsDefault {
			return &p.Views[i]
		}
	}
	return nil
}

// View returns the user's view with this id, or nil.
func (p ListPrefs) View(id string) *SavedView {
	for i := range p.Views {
		if p.Views[i].ID == id {
			return &p.Views[i]
		}
	}
	return nil
}

// UserListPrefs reads a user's views and columns of a list in one query:
// the list's page reads it on every render.
func UserListPrefs(ctx context.Context, db *DB, userID string, kind ViewKind) (ListPrefs, error) {
	var rows []struct {
		Row       string `db:"row"`
		ID        string `db:"id"`
		Name      string `db:"name"`
		Query     string `db:"query"`
		IsDefault bool   `db:"is_default"`
	}
	err := db.R.SelectContext(ctx, &rows, `
		SELECT 'view' AS row, id, name, query, is_default FROM saved_views WHERE user_id = ? AND kind = ?
		UNION ALL
		SELECT 'cols', '', '', cols, 0 FROM list_columns WHERE user_id = ? AND kind = ?
		ORDER BY 1 DESC, 3 COLLATE NOCASE`, userID, kind, userID, kind)
	var p ListPrefs
	for _, r := range rows {
		if r.Row == "cols" {
			p.Columns, p.HasColumns = r.Query, true
			continue
		}
		p.Views = append(p.Views, SavedView{ID: r.ID, UserID: userID, Kind: kind, Name: r.Name, Query: r.Query, IsDefault: r.IsDefault})
	}
	return p, err
}

// GetView returns one of the user's views; another user's is not found.
func GetView(ctx context.Context, db *DB, userID, id string) (*SavedView, error) {
	return getView(ctx, db.R, userID, id)
}

func getView(ctx context.Context, q sqlx.QueryerContext, userID, id string) (*SavedView, error) {
	var v SavedView
	if err := getOne(ctx, q, &v, "view", `SELECT id, user_id, kind, name, query, is_default, created_at FROM saved_views WHERE id = ? AND user_id = ?`, id, userID); err != nil {
		return nil, err
	}
	return &v, nil
}

// ViewInput is a view to save or a change to one: nil fields are left
// alone.
type ViewInput struct {
	Name      *string
	Query     *string
	IsDefault *bool
}

// validate checks the name and query; a name is trimmed.
func (in *ViewInput) validate() error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		switch {
		case name == "":
			return FieldError("name", "Give the view a name.")
		case utf8.RuneCountInString(name) > MaxViewName:
			return FieldError("name", "A view's name is at most %d characters.", MaxViewName)
		}
		in.Name = &name
	}
	if in.Query != nil && len(*in.Query) > MaxViewQuery {
		return FieldError("name", "These filters are too long to save as a view.")
	}
	return nil
}

func viewNameTaken(name string) error {
	return FieldError("name", "You already have a view named %q: choose another name.", name)
}

// CreateView saves a new view of the user's.
func CreateView(ctx context.Context, db *DB, userID string, kind ViewKind, in ViewInput) (*SavedView, error) {
	if in.Name == nil {
		in.Name = new(string)
	}
	if in.Query == nil {
		in.Query = new(string)
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if kind != ViewContacts {
		return nil, Errorf(EInvalid, "Views can be saved of contacts only.")
	}
	v := &SavedView{ID: newID(), UserID: userID, Kind: kind, Name: *in.Name, Query: *in.Query,
		IsDefault: in.IsDefault != nil && *in.IsDefault, CreatedAt: time.Now().UTC()}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if v.IsDefault {
			if err := clearDefaultView(ctx, tx, userID, kind); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO saved_views (id, user_id, kind, name, query, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.UserID, v.Kind, v.Name, v.Query, v.IsDefault, v.CreatedAt)
		return err
	})
	if isUniqueViolation(err) {
		return nil, viewNameTaken(v.Name)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// UpdateView renames one of the user's views, changes its query, or makes
// it the default (the user's other view that was stops being it).
func UpdateView(ctx context.Context, db *DB, userID, id string, in ViewInput) (*SavedView, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var v *SavedView
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if v, err = getView(ctx, tx, userID, id); err != nil {
			return err
		}
		if in.Name != nil {
			v.Name = *in.Name
		}
		if in.Query != nil {
			v.Query = *in.Query
		}
		if in.IsDefault != nil {
			if *in.IsDefault && !v.IsDefault {
				if err := clearDefaultView(ctx, tx, userID, v.Kind); err != nil {
					return err
				}
			}
			v.IsDefault = *in.IsDefault
		}
		_, err = tx.ExecContext(ctx, `UPDATE saved_views SET name = ?, query = ?, is_default = ? WHERE id = ? AND user_id = ?`,
			v.Name, v.Query, v.IsDefault, id, userID)
		return err
	})
	if isUniqueViolation(err) {
		return nil, viewNameTaken(v.Name)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

func clearDefaultView(ctx context.Context, tx *sqlx.Tx, userID string, kind ViewKind) error {
	_, err := tx.ExecContext(ctx, `UPDATE saved_views SET is_default = 0 WHERE user_id = ? AND kind = ? AND is_default`, userID, kind)
	return err
}

// DeleteView deletes one of the user's views.
func DeleteView(ctx context.Context, db *DB, userID, id string) error {
	res, err := db.W.ExecContext(ctx, `DELETE FROM saved_views WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Errorf(ENotFound, "That view does not exist.")
	}
	return nil
}

// SetListColumns keeps the columns a user chose for a list (a comma-
// separated list of column keys, checked by the page that shows them).
func SetListColumns(ctx context.Context, db *DB, userID string, kind ViewKind, cols string) error {
	if kind != ViewContacts {
		return Errorf(EInvalid, "Columns can be chosen for contacts only.")
	}
	if len(cols) > MaxViewQuery {
		return Errorf(EInvalid, "Too many columns.")
	}
	_, err := db.W.ExecContext(ctx, `INSERT INTO list_columns (user_id, kind, cols) VALUES (?, ?, ?)
		ON CONFLICT (user_id, kind) DO UPDATE SET cols = excluded.cols`, userID, kind, cols)
	return err
}
