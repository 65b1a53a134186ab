package tenant

import (
	"path/filepath"
	"time"
)

// What the operations side reads of a running Manager: plain numbers, so
// the HTTP layer can export them in whatever format it speaks.

// CacheStats returns the counts of the cache of open workspace handles.
func (m *Manager) CacheStats() CacheStats { return m.cache.Stats() }

// JobStats is how many jobs wait for a slot and how many run now, and
// how long heavy work waited for requests in flight since the start (see
// Pacer).
type JobStats struct {
	Queued, Running int64
	Paced           time.Duration
}

// JobStats returns the job runner's queue.
func (m *Manager) JobStats() JobStats {
	return JobStats{Queued: m.jobs.queued.Load(), Running: m.jobs.running.Load(), Paced: time.Duration(m.requests.waited.Load())}
}

// ObserveJobs has fn told the kind and run time of each job that ends
// (its time in a slot, not waiting for one). Set it before jobs start; a
// later call replaces it.
func (m *Manager) ObserveJobs(fn func(kind string, took time.Duration)) {
	m.jobs.observe.Store(&fn)
}

// SendStats counts the messages the send passes sent and failed since the
// start.
type SendStats struct {
	Sent, Failed int64
}

// SendStats returns the sender's counts.
func (m *Manager) SendStats() SendStats {
	return SendStats{Sent: m.sent.Load(), Failed: m.sendFailed.Load()}
}

// ReplicationStats is what replication is doing now, from memory: no
// replica is listed.
type ReplicationStats struct {
	// Running says the catalog is registered with Litestream.
	Running bool
	// Workspaces is how many workspace files are registered.
	Workspaces int
	// Lag is, per region, the largest lag of its registered workspaces;
	// every configured region has an entry. CatalogLag is the catalog's.
	Lag        map[string]Lag
	CatalogLag Lag
}

// Lag is how far a replica is behind its file: in transactions, and how
// long since its last successful upload while it is behind.
type Lag struct {
	TXIDs   uint64
	Seconds float64
}

func (l Lag) max(o Lag) Lag {
	return Lag{TXIDs: max(l.TXIDs, o.TXIDs), Seconds: max(l.Seconds, o.Seconds)}
}

// ReplicationStats returns the registered files and their lag.
func (m *Manager) ReplicationStats() ReplicationStats {
	st := ReplicationStats{Lag: map[string]Lag{}}
	regionOf := map[string]string{} // data directory → region
	for name, r := range m.cfg.Regions {
		regionOf[filepath.Clean(r.Data)] = name
		st.Lag[name] = Lag{}
	}
	catalog := m.catalogPath()
	for path, db := range m.repl.registeredDBs() {
		lag := Lag{}
		if pos, err := db.Pos(); err == nil {
			if local, replicated := uint64(pos.TXID), uint64(db.Replica.Pos().TXID); local > replicated {
				lag.TXIDs = local - replicated
				if at := db.LastSuccessfulSyncAt(); !at.IsZero() {
					lag.Seconds = time.Since(at).Seconds()
				}
			}
		}
		if path == catalog {
			st.Running, st.CatalogLag = true, lag
			continue
		}
		st.Workspaces++
		if region, ok := regionOf[filepath.Dir(path)]; ok {
			st.Lag[region] = st.Lag[region].max(lag)
		}
	}
	return st
}
