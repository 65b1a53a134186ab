package tenant

import (
	"context"
	"io"
	"os"

	"atrium/store"
)

// Export writes the export archive of a leased workspace to a temporary
// file of the data directory, in a job slot (see RunHeavy): building
// archives is bounded like the other heavy work, and a slow download does
// not hold a slot. The file comes back open at its start and already
// unlinked; closing it frees it.
func (m *Manager) Export(ctx context.Context, l *Lease) (*os.File, *store.Manifest, error) {
	ws, err := m.Workspace(ctx, l.ID)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(m.dataDir, ".export-*.zip")
	if err != nil {
		return nil, nil, err
	}
	os.Remove(f.Name())
	var manifest *store.Manifest
	err = m.RunHeavy(ctx, l.ID, HeavyExport, func() error {
		meta := store.ExportMeta{ID: ws.ID, Name: ws.Name, Region: ws.Region}
		var err error
		manifest, err = store.ExportWorkspace(ctx, l.DB, meta, m.dataDir, f)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, manifest, nil
}
