package tenant

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// restoreLTX writes to out (a new file, not synced) the state of the replica behind c at
// transaction txid, or at moment at, or its latest (both zero), as
// Litestream's Replica.Restore does, with the same checks, but with less
// work: Litestream merges the files of its restore plan into one LTX stream
// (every page compressed again) and decodes that, writing a page per
// system call; here the snapshot is decoded straight into the file through
// a buffer, and the later files' pages are written over it.
//
// The checks: the plan's files follow each other with no transaction
// missing (CalcRestorePlan), each file's own checksum (the decoder's), a
// snapshot has every page of its database, and, in files that carry one,
// the checksum of the whole database after the snapshot (Litestream v0.5
// writes its files without: HeaderFlagNoChecksum).
//
// When this way fails for any other reason than ctx or a missing backup
// (say, a replica file compacted away meanwhile, or a read cut short), the
// restore is done again by Litestream's Replica.Restore, which retries
// those.
func restoreLTX(ctx context.Context, c litestream.ReplicaClient, txid ltx.TXID, at time.Time, out string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	infos, err := litestream.CalcRestorePlan(ctx, c, txid, at, log)
	if err != nil {
		return err
	}
	err = applyRestorePlan(ctx, c, infos, out)
	if err == nil || ctx.Err() != nil {
		return err
	}
	log.Warn("restoring from the replica's files failed; restoring again with Litestream's restore", "path", out, "err", err)
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	opt.TXID = txid
	opt.Timestamp = at
	return litestream.NewReplicaWithClient(nil, c).Restore(ctx, opt)
}

// applyRestorePlan writes the database the files of infos (a snapshot, then
// the files that follow it) make up to a new file at out. It does not sync
// it: see restoreValidated.
func applyRestorePlan(ctx context.Context, c litestream.ReplicaClient, infos []*ltx.FileInfo, out string) error {
	if len(infos) == 0 || infos[0].MinTXID != 1 {
		return errors.New("the restore plan does not start with a snapshot")
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, info := range infos {
		if err := applyLTXFile(ctx, c, info, f); err != nil {
			return err
		}
	}
	return f.Close()
}

// applyLTXFile writes the pages of one LTX file of a restore plan into f:
// a snapshot in order through a buffer, the others where they go; then it
// cuts f to the database's size after the file.
func applyLTXFile(ctx context.Context, c litestream.ReplicaClient, info *ltx.FileInfo, f *os.File) error {
	rc, err := c.OpenLTXFile(ctx, info.Level, info.MinTXID, info.MaxTXID, 0, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := ltx.NewDecoder(bufio.NewReaderSize(rc, 1<<20))
	if err := dec.DecodeHeader(); err != nil {
		return fmt.Errorf("LTX file %s-%s: %w", info.MinTXID, info.MaxTXID, err)
	}
	hdr := dec.Header()
	pageSize := int64(hdr.PageSize)
	snapshot := hdr.IsSnapshot()
	var w *bufio.Writer
	if snapshot {
		w = bufio.NewWriterSize(f, 1<<20)
	}
	lockPgno := hdr.LockPgno()
	data := make([]byte, hdr.PageSize)
	var ph ltx.PageHeader
	next := uint32(1) // the page a snapshot gives next
	for ; ; next++ {
		if snapshot && next == lockPgno && next <= hdr.Commit {
			// Not in the file: SQLite never writes the lock page.
			if _, err := w.Write(make([]byte, hdr.PageSize)); err != nil {
				return err
			}
			continue
		}
		err := dec.DecodePage(&ph, data)
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("LTX file %s-%s: %w", info.MinTXID, info.MaxTXID, err)
		}
		if snapshot {
			if ph.Pgno != next {
				return fmt.Errorf("LTX snapshot %s: page %d where page %d was expected", info.MaxTXID, ph.Pgno, next)
			}
			_, err = w.Write(data)
		} else {
			_, err = f.WriteAt(data, int64(ph.Pgno-1)*pageSize)
		}
		if err != nil {
			return err
		}
		if next%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if snapshot && next-1 != hdr.Commit {
		return fmt.Errorf("LTX snapshot %s: %d pages for a database of %d", info.MaxTXID, next-1, hdr.Commit)
	}
	// The file's checksum, and a snapshot's whole database when it has one.
	if err := dec.Close(); err != nil {
		return fmt.Errorf("LTX file %s-%s: %w", info.MinTXID, info.MaxTXID, err)
	}
	if snapshot {
		return w.Flush()
	}
	return f.Truncate(int64(hdr.Commit) * pageSize)
}
