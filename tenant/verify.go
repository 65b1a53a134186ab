package tenant

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/superfly/ltx"

	"atrium/store"
)

// Backups are verified, not assumed: now and then a workspace's replica is
// restored into a temporary file, checked with integrity_check, and
// compared page by page with the live file at the same replicated
// position. A replica that fails is replaced by a new generation that
// starts with a full snapshot.
const (
	// DefaultVerifyInterval is how often the rolling sample verifies the
	// workspace whose replica was checked longest ago.
	DefaultVerifyInterval = 10 * time.Minute
	// DefaultVerifyBytesPerSecond bounds the verifier's I/O on average: after
	// verifying a file it waits as long as reading the file at this rate
	// would take (a verification reads the file, restores it and checks it).
	DefaultVerifyBytesPerSecond = 8 << 20
	// reverifyAfter spares a workspace verified recently a verification
	// for being registered again (a cache that churns registers often).
	reverifyAfter = time.Hour
	// maxVerifyQueue bounds the workspaces waiting for a verification; the
	// rolling sample reaches those dropped.
	maxVerifyQueue = 1024
)

// reregistrationDelay lets a workspace registered again take its writes
// before it is verified: damage would come from those writes. A variable
// so tests need not wait for it.
var reregistrationDelay = time.Minute

// Verification is what one check of a workspace's replica found.
type Verification struct {
	WorkspaceID string `json:"workspace_id"`
	Generation  int    `json:"generation"`
	TXID        uint64 `json:"txid"`
	Pages       int    `json:"pages"`
	Bytes       int64  `json:"bytes"`
	// Failure says why the replica did not restore to the live file; empty
	// when it did.
	Failure string `json:"failure,omitempty"`
	// NewGeneration is the generation started in place of a failed one.
	NewGeneration int `json:"new_generation,omitempty"`
}

// errNotVerifiable is a verification that could not run (the workspace is
// never opened, being restored, or its replica unreachable): no result.
type errNotVerifiable struct{ err error }

func (e errNotVerifiable) Error() string { return e.err.Error() }
func (e errNotVerifiable) Unwrap() error { return e.err }

// VerifyReplica verifies workspace id's replica now ("catalog": the
// catalog's). A workspace's replica that does not restore to the live file
// is recorded as failed, logged, and replaced by a new generation; the
// result says so. An error means the verification could not run.
func (m *Manager) VerifyReplica(ctx context.Context, id string) (Verification, error) {
	if id == catalogPrefix {
		return m.VerifyCatalogReplica(ctx)
	}
	id, err := ParseID(id)
	if err != nil {
		return Verification{}, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return Verification{}, err
	}
	if w.Pristine {
		return Verification{}, errNotVerifiable{store.Errorf(store.EInvalid, "Workspace %s has never been opened, so it has no replica to verify yet.", id)}
	}
	// Restoring a replica aside is heavy work: it waits for a job slot.
	var v Verification
	err = m.RunHeavy(ctx, id, HeavyVerify, func() (err error) {
		v, err = m.verify(ctx, id)
		return err
	})
	if err != nil {
		return v, err
	}
	if err := m.recordVerification(ctx, &v); err != nil || v.Failure == "" {
		return v, err
	}
	gen, err := m.startNewGeneration(ctx, id, v)
	if err != nil {
		return v, fmt.Errorf("the replica of workspace %s failed its verification (%s), and a new generation could not be started: %w", id, v.Failure, err)
	}
	v.NewGeneration = gen
	return v, nil
}

// recordVerification counts, logs and records in the catalog what a
// verification found.
func (m *Manager) recordVerification(ctx context.Context, v *Verification) error {
	now := time.Now()
	v.Failure = truncate(v.Failure, 500) // integrity_check lists every broken row
	if v.Failure == "" {
		m.verifier.passed.Add(1)
		return store.RecordReplicaVerified(ctx, m.catalog.W, v.WorkspaceID, v.Generation, v.TXID, now)
	}
	m.verifier.failed.Add(1)
	m.log.Error("a replica does not restore to its live file", "file", v.WorkspaceID, "generation", v.Generation, "txid", v.TXID, "failure", v.Failure)
	return store.RecordReplicaFailed(ctx, m.catalog.W, v.WorkspaceID, v.Failure, now)
}

// verify restores id's replica at the position the live file is read at,
// and compares the two.
func (m *Manager) verify(ctx context.Context, id string) (Verification, error) {
	l, err := m.Acquire(ctx, id)
	if err != nil {
		return Verification{}, errNotVerifiable{err}
	}
	// Read while leased: a restore or a move (which change the replica
	// generation) wait for the lease to end.
	w, err := m.Workspace(ctx, id)
	if err != nil {
		l.Release()
		return Verification{}, errNotVerifiable{err}
	}
	v := Verification{WorkspaceID: id, Generation: max(w.ReplicaGen, 1)}
	live, err := m.readAtReplicatedPosition(ctx, l.DB, &v)
	l.Release()
	if err != nil {
		return v, errNotVerifiable{err}
	}
	t, err := m.regionTarget(w.Region)
	if err != nil {
		return v, err
	}
	return m.compareReplica(ctx, v, live, t, replicaElems(w), filepath.Dir(l.Path))
}

// compareReplica restores the replica under elems of t at v.TXID into a
// working directory in dir, checks it and compares it with the live pages,
// and records in v what differs.
func (m *Manager) compareReplica(ctx context.Context, v Verification, live livePages, t *replicaTarget, elems []string, dir string) (Verification, error) {
	tmpDir, err := os.MkdirTemp(dir, ".verify-")
	if err != nil {
		return v, err
	}
	defer os.RemoveAll(tmpDir)
	out := filepath.Join(tmpDir, "restored.db")
	if err := m.restoreAt(ctx, t, elems, v.TXID, out); err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		v.Failure = "cannot restore it: " + err.Error()
		return v, nil
	}
	if err := checkFile(ctx, out); err != nil {
		v.Failure = strings.ReplaceAll(err.Error(), out, "the restored file") // not a temporary path
		return v, nil
	}
	v.Failure, err = comparePages(out, live)
	return v, err
}

// VerifyCatalogReplica verifies the catalog's replica now, as VerifyReplica
// does a workspace's, and records the result under "catalog". A failure
// is logged and shown; the catalog has no replica generations, so it is
// not replaced (disaster recovery starts from it: see the README).
func (m *Manager) VerifyCatalogReplica(ctx context.Context) (Verification, error) {
	v := Verification{WorkspaceID: catalogPrefix, Generation: 1}
	live, err := m.readAtReplicatedPosition(ctx, m.catalog.DB, &v)
	if err != nil {
		return v, errNotVerifiable{err}
	}
	t, err := m.catalogTarget()
	if err != nil {
		return v, err
	}
	if v, err = m.compareReplica(ctx, v, live, t, []string{catalogPrefix}, m.dataDir); err != nil {
		return v, err
	}
	return v, m.recordVerification(ctx, &v)
}

// livePages are the checksums of a file's pages as a read transaction saw
// them.
type livePages struct {
	size int
	sums []uint64
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// readAtReplicatedPosition replicates db's file and reads its pages
// as of a replicated transaction, which it records in v. Commits wait
// while Litestream records the last of them locally and the read starts
// (the write lock is held): nothing else would tie the read to a
// transaction. The upload is waited for after the lock is let go.
func (m *Manager) readAtReplicatedPosition(ctx context.Context, db *store.DB, v *Verification) (livePages, error) {
	// A first sync outside the lock does most of the work (and starts
	// Litestream's tracking of the file if it had not yet).
	if _, err := m.repl.sync(ctx, db.Path); err != nil {
		return livePages{}, fmt.Errorf("cannot replicate workspace %s: %w", v.WorkspaceID, err)
	}
	wtx, err := db.W.BeginTxx(ctx, nil)
	if err != nil {
		return livePages{}, err
	}
	defer wtx.Rollback()
	if v.TXID, err = m.repl.syncPathLocally(ctx, db.Path); err != nil {
		return livePages{}, fmt.Errorf("cannot replicate workspace %s: %w", v.WorkspaceID, err)
	}
	rtx, err := db.R.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return livePages{}, err
	}
	defer rtx.Rollback()
	var live livePages
	// The read transaction starts at its first read, before the writers
	// are let go.
	if err := rtx.GetContext(ctx, &live.size, `PRAGMA page_size`); err != nil {
		return livePages{}, err
	}
	if _, err := rtx.ExecContext(ctx, `SELECT 1 FROM sqlite_schema LIMIT 1`); err != nil {
		return livePages{}, err
	}
	wtx.Rollback()
	res, err := m.repl.sync(ctx, db.Path)
	if err != nil {
		return livePages{}, fmt.Errorf("cannot replicate workspace %s: %w", v.WorkspaceID, err)
	}
	if res.ReplicatedTXID < v.TXID {
		return livePages{}, fmt.Errorf("the replica of workspace %s is at transaction %d of %d", v.WorkspaceID, res.ReplicatedTXID, v.TXID)
	}
	live.sums, err = pageSums(ctx, rtx)
	v.Pages, v.Bytes = len(live.sums), int64(len(live.sums))*int64(live.size)
	return live, err
}

// pageSums returns the checksum of every page of the database, as the
// transaction sees it.
func pageSums(ctx context.Context, tx *sqlx.Tx) ([]uint64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT data FROM sqlite_dbpage ORDER BY pgno`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sums []uint64
	var page sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&page); err != nil {
			return nil, err
		}
		sums = append(sums, crc64.Checksum(page, crcTable))
	}
	return sums, rows.Err()
}

// comparePages compares the restored file at path with the live pages, and
// describes the first difference.
func comparePages(path string, live livePages) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	page := make([]byte, live.size)
	for i, want := range live.sums {
		if _, err := io.ReadFull(r, page); err != nil {
			return fmt.Sprintf("the restored file has %d pages, the live file %d", i, len(live.sums)), nil
		}
		if crc64.Checksum(page, crcTable) != want {
			return fmt.Sprintf("page %d of %d differs from the live file's", i+1, len(live.sums)), nil
		}
	}
	if n, _ := io.Copy(io.Discard, r); n > 0 {
		return fmt.Sprintf("the restored file has %d pages, the live file %d", len(live.sums)+int(n)/live.size, len(live.sums)), nil
	}
	return "", nil
}

// restoreAt writes the state at transaction txid of the replica under
// elems of t to out.
func (m *Manager) restoreAt(ctx context.Context, t *replicaTarget, elems []string, txid uint64, out string) error {
	c, err := m.replicaClient(ctx, t, elems...)
	if err != nil {
		return err
	}
	return restoreLTX(ctx, c, ltx.TXID(txid), time.Time{}, out, m.log)
}

// startNewGeneration replaces a workspace's replica that failed its
// verification with a new generation, which starts with a full snapshot of
// the file. The old generation stays for restores to earlier moments.
// Requests wait out the switch ("try again in a moment").
func (m *Manager) startNewGeneration(ctx context.Context, id string, failed Verification) (int, error) {
	busy := store.Errorf(store.EUnavailable, "Workspace %s is starting a new backup; try again in a moment.", id)
	if err := m.cache.takeOut(ctx, id, busy); err != nil {
		return 0, err
	}
	defer m.cache.putBack(id)
	w, path, err := m.activeWorkspace(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := m.repl.remove(ctx, path); err != nil {
		return 0, err
	}
	w.ReplicaGen = max(w.ReplicaGen, 1) + 1
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetWorkspaceReplica(ctx, tx, w.ID, w.Region, w.ReplicaGen); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, "system", "workspace.backup_failed", w.ID, map[string]any{
			"generation": failed.Generation, "txid": failed.TXID, "failure": failed.Failure, "new_generation": w.ReplicaGen})
	})
	if err != nil {
		return 0, err
	}
	// Litestream's local state describes the old generation.
	if err := os.RemoveAll(metaPath(path)); err != nil {
		return w.ReplicaGen, err
	}
	// Snapshot now: until the new generation holds something, a restore
	// would still find the old one.
	return w.ReplicaGen, m.syncOne(ctx, w)
}

// verifier is the background verification of replicas: workspaces queued
// (registered when the process died, registered again) first, then a
// rolling sample.
type verifier struct {
	mu     sync.Mutex
	queue  []verifyRequest
	queued map[string]bool
	wake   chan struct{}

	passed, failed atomic.Int64
}

type verifyRequest struct {
	id  string
	due time.Time
	// always: not skipped for a recent verification (an unclean stop).
	always bool
}

func newVerifier() *verifier {
	return &verifier{queued: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// VerifyCounts returns how many verifications passed and failed since the
// process started.
func (m *Manager) VerifyCounts() (passed, failed int64) {
	return m.verifier.passed.Load(), m.verifier.failed.Load()
}

// enqueue asks for a verification of id once due.
func (v *verifier) enqueue(r verifyRequest) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.queued[r.id] || len(v.queue) >= maxVerifyQueue {
		return
	}
	v.queued[r.id] = true
	v.queue = append(v.queue, r)
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// next takes the first request that is due, and says when the next one
// will be.
func (v *verifier) next(now time.Time) (verifyRequest, bool, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var soonest time.Time
	for i, r := range v.queue {
		if !r.due.After(now) {
			v.queue = append(v.queue[:i], v.queue[i+1:]...)
			delete(v.queued, r.id)
			return r, true, time.Time{}
		}
		if soonest.IsZero() || r.due.Before(soonest) {
			soonest = r.due
		}
	}
	return verifyRequest{}, false, soonest
}

// verifyLoop runs verifications one at a time until ctx ends: queued ones
// when due, otherwise the rolling sample every interval. After each it
// pauses in proportion to the file's size.
func (m *Manager) verifyLoop(ctx context.Context, interval time.Duration, bytesPerSecond int64) {
	sample := time.NewTicker(interval)
	defer sample.Stop()
	for {
		r, ok, soonest := m.verifier.next(time.Now())
		if !ok {
			var due <-chan time.Time
			if !soonest.IsZero() {
				due = time.After(time.Until(soonest))
			}
			select {
			case <-ctx.Done():
				return
			case <-m.verifier.wake:
				continue
			case <-due:
				continue
			case <-sample.C:
				id, err := m.nextSample(ctx)
				if err != nil || id == "" {
					continue
				}
				r = verifyRequest{id: id, always: true}
			}
		}
		read := m.verifyInBackground(ctx, r)
		pause := time.Duration(float64(read) / float64(bytesPerSecond) * float64(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// nextSample picks what the rolling sample verifies next: the catalog
// when it was not checked in the last hour, otherwise the workspace
// checked longest ago.
func (m *Manager) nextSample(ctx context.Context) (string, error) {
	c, err := store.GetReplicaCheck(ctx, m.catalog.R, catalogPrefix)
	if err != nil {
		return "", err
	}
	if time.Since(c.CheckedAt) >= reverifyAfter {
		return catalogPrefix, nil
	}
	return store.LeastRecentlyChecked(ctx, m.catalog.R)
}

// verifyInBackground runs one queued or sampled verification and returns
// the size of the file it verified.
func (m *Manager) verifyInBackground(ctx context.Context, r verifyRequest) int64 {
	if !r.always {
		c, err := store.GetReplicaCheck(ctx, m.catalog.R, r.id)
		if err != nil || (c.VerifiedAt.Valid && time.Since(c.VerifiedAt.Time) < reverifyAfter) {
			return 0
		}
	}
	v, err := m.VerifyReplica(ctx, r.id)
	var skipped errNotVerifiable
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &skipped):
		m.log.Warn("replica verification skipped", "workspace", r.id, "err", err)
		if err := store.RecordReplicaChecked(ctx, m.catalog.W, r.id, time.Now()); err != nil {
			m.log.Error("replica verification", "workspace", r.id, "err", err)
		}
	case err != nil:
		m.log.Error("replica verification", "workspace", r.id, "err", err)
	case v.Failure == "":
		m.log.Info("replica verified", "workspace", r.id, "generation", v.Generation, "txid", v.TXID, "pages", v.Pages)
	}
	return v.Bytes
}

// registeredList names the file in the data directory that lists the
// files being replicated (see replicator.saveRegistered).
const registeredList = "replicating"

// queueVerifyRegisteredAtCrash queues, after a start that did not follow a
// clean stop, the workspaces that were being replicated when the process
// died.
func (m *Manager) queueVerifyRegisteredAtCrash() {
	for _, name := range m.repl.atLastStop {
		id := strings.TrimSuffix(name, ".db")
		if _, err := ParseID(id); err == nil || id == catalogPrefix {
			m.verifier.enqueue(verifyRequest{id: id, always: true})
		}
	}
}

// queueVerifyReregistered queues a verification of the workspace at path,
// which was registered again, once its writes since have had time to land.
func (m *Manager) queueVerifyReregistered(path string) {
	id, err := ParseID(strings.TrimSuffix(filepath.Base(path), ".db"))
	if err != nil {
		return // the catalog
	}
	m.verifier.enqueue(verifyRequest{id: id, due: time.Now().Add(reregistrationDelay)})
}
