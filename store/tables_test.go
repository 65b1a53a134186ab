package store

import (
	"maps"
	"slices"
	"testing"
)

// TestWorkspaceTables_ExportAndErasure: every table of the workspace schema
// is in the export or left out of it with a reason, and within the GDPR
// erasure's reach or left out of it with a reason. A table a migration adds
// fails here until both are decided.
func TestWorkspaceTables_ExportAndErasure(t *testing.T) {
	ctx := t.Context()
	db := MustOpenWorkspace(t)
	// table_list tells FTS5's shadow tables (the index's own storage,
	// covered by their virtual table) from tables and virtual tables.
	var tables []string
	if err := db.R.SelectContext(ctx, &tables, `SELECT name FROM pragma_table_list
		WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("found only the tables %v", tables)
	}
	t.Run("Export", func(t *testing.T) {
		for _, name := range tables {
			in, out := slices.Contains(ExportTables, name), exportLeftOut[name] != ""
			switch {
			case in && out:
				t.Errorf("%s is both in ExportTables and in exportLeftOut", name)
			case !in && !out:
				t.Errorf("%s is neither in ExportTables nor in exportLeftOut (with the reason)", name)
			}
		}
		for _, name := range append(slices.Clone(ExportTables), slices.Collect(maps.Keys(exportLeftOut))...) {
			if !slices.Contains(tables, name) {
				t.Errorf("the export lists %s, which the schema does not have", name)
			}
		}
	})
	t.Run("Erasure", func(t *testing.T) {
		for _, name := range tables {
			in, out := erasureReach[name] != "", erasureLeftOut[name] != ""
			switch {
			case in && out:
				t.Errorf("%s is both in erasureReach and in erasureLeftOut", name)
			case !in && !out:
				t.Errorf("%s is neither in erasureReach nor in erasureLeftOut (with the reason)", name)
			}
		}
		for _, name := range append(slices.Collect(maps.Keys(erasureReach)), slices.Collect(maps.Keys(erasureLeftOut))...) {
			if !slices.Contains(tables, name) {
				t.Errorf("the erasure lists %s, which the schema does not have", name)
			}
		}
		// A row that points at a contact is about that person.
		var pointing []string
		if err := db.R.SelectContext(ctx, &pointing, `SELECT DISTINCT t.name FROM pragma_table_list t,
			pragma_foreign_key_list(t.name) f WHERE t.schema = 'main' AND t.type = 'table' AND f."table" = 'contacts'`); err != nil {
			t.Fatal(err)
		}
		if len(pointing) < 4 {
			t.Fatalf("found only %v pointing at contacts", pointing)
		}
		for _, name := range pointing {
			if erasureReach[name] == "" {
				t.Errorf("%s points at contacts, so an erasure must reach it; it is not in erasureReach", name)
			}
		}
	})
}
