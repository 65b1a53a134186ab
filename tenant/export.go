package tenant

import (
	"bufio"
	"context"
	"io"

	"filippo.io/age"

	"atrium/store"
)

// ExportTo writes the export archive of a leased workspace to w as it is
// built, in a job slot (see RunHeavy): building archives is bounded like
// the other heavy work. With a passphrase the archive is protected (an age
// file, see exportcrypt.go). Memory stays flat whatever the size: rows
// stream, and the snapshot is compressed into a file of the data
// directory that is gone as soon as it is open.
func (m *Manager) ExportTo(ctx context.Context, l *Lease, w io.Writer, passphrase string) (*store.Manifest, error) {
	if passphrase != "" {
		if err := CheckPassphrase(passphrase); err != nil {
			return nil, err
		}
	}
	ws, err := m.Workspace(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	var manifest *store.Manifest
	err = m.RunHeavy(ctx, l.ID, HeavyExport, func() error {
		meta := store.ExportMeta{ID: ws.ID, Name: ws.Name, Region: ws.Region}
		if passphrase == "" {
			var err error
			manifest, err = store.ExportWorkspace(ctx, l.DB, meta, m.dataDir, w, goBackground)
			return err
		}
		return protect(w, passphrase, func(w io.Writer) (err error) {
			manifest, err = store.ExportWorkspace(ctx, l.DB, meta, m.dataDir, w, goBackground)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return manifest, nil
}

// protect runs write on a writer that encrypts into dst under passphrase.
func protect(dst io.Writer, passphrase string, write func(io.Writer) error) error {
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return err
	}
	r.SetWorkFactor(exportScryptWorkFactor)
	bw := bufio.NewWriterSize(dst, 1<<16)
	w, err := age.Encrypt(bw, r)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
