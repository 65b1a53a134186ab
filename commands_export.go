package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"atrium/store"
	"atrium/tenant"
)

// cmdWorkspaceExport writes a workspace's export archive to a file: a
// temporary file first, renamed into place once whole.
func (m *Main) cmdWorkspaceExport(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace export")
	out := fs.String("o", "", "the archive to write")
	passFile := fs.String("passphrase-file", "", "protect the archive with the passphrase on this file's first line (- for stdin)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("'atrium workspace export' takes one workspace id.")
	}
	if *out == "" {
		return usagef("-o FILE is required.")
	}
	id, err := tenant.ParseID(pos[0])
	if err != nil {
		return err
	}
	passphrase, err := m.readPassphrase(*passFile)
	if err != nil {
		return err
	}
	if passphrase != "" {
		if err := tenant.CheckPassphrase(passphrase); err != nil {
			return err
		}
	}
	path := m.localPath(*out)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; choose another file or remove it", *out)
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	lease, err := m.Manager.Acquire(ctx, id)
	if err != nil {
		return err
	}
	defer lease.Release()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".atrium-export-*.zip")
	if err != nil {
		return fmt.Errorf("cannot write next to %s: %w", *out, err)
	}
	defer os.Remove(tmp.Name())
	manifest, err := m.Manager.ExportTo(ctx, lease, tmp, passphrase)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if err := store.Audit(ctx, lease.DB, store.Actor{Kind: "system", ID: "cli"}, "workspace.export", "workspace", id); err != nil {
		return err
	}
	fmt.Fprintf(m.stderr, "exported %d contacts, %d companies, %d deals\n", manifest.Counts["contacts"], manifest.Counts["companies"], manifest.Counts["deals"])
	fmt.Fprintln(m.stdout, *out)
	return nil
}

// cmdWorkspaceImport makes a workspace from an export archive or a .db file
// and prints its id.
func (m *Main) cmdWorkspaceImport(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace import")
	name := fs.String("name", "", "workspace name (default: the archive's, or the file's)")
	owner := fs.String("owner", "", "email of the user who will own it")
	region := fs.String("region", "", "region (default: the default region)")
	passFile := fs.String("passphrase-file", "", "the passphrase of a protected export, on this file's first line (- for stdin)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("'atrium workspace import' takes one file.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	passphrase, err := m.readPassphrase(*passFile)
	if err != nil {
		return err
	}
	w, err := m.Manager.Import(ctx, m.localPath(pos[0]), tenant.CreateOptions{Name: *name, OwnerEmail: *owner, Region: *region, Actor: "cli", Passphrase: passphrase})
	if err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, w.ID)
	return nil
}

// readPassphrase reads the first line of the file at path ("-": stdin);
// "" when no file is given.
func (m *Main) readPassphrase(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	var r io.Reader = m.stdin
	if path != "-" {
		f, err := os.Open(m.localPath(path))
		if err != nil {
			return "", fmt.Errorf("cannot read the passphrase file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("The passphrase file %s is empty.", path)
	}
	return line, nil
}
