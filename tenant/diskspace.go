package tenant

import (
	"context"
	"sync"
	"syscall"
	"time"

	"atrium/store"
)

// Without a configured reserve, heavy work keeps the larger of 1 GiB and
// 5% of the disk free for the writes, checkpoints and replication that
// must go on.
const (
	minReserveBytes = 1 << 30
	reserveShare    = 0.05
)

// diskSpaceTTL is how long a reading of a disk's free space is used: the
// check before heavy work costs a statfs every few seconds at most.
const diskSpaceTTL = 3 * time.Second

// DiskSpace is the space of the disk under a region's workspace files.
type DiskSpace struct {
	Region  string `json:"region"`
	Path    string `json:"path"`
	Free    uint64 `json:"free_bytes"`
	Total   uint64 `json:"total_bytes"`
	Reserve uint64 `json:"reserve_bytes"`
	Err     string `json:"error,omitempty"`
}

// Low says whether heavy work must wait: less than the reserve is free.
func (d DiskSpace) Low() bool { return d.Err == "" && d.Free < d.Reserve }

// diskGauge caches the last reading of each region's disk.
type diskGauge struct {
	mu   sync.Mutex
	read map[string]diskReading
}

type diskReading struct {
	at    time.Time
	space DiskSpace
}

// statDisk reads the free and total space of the file system of path.
func statDisk(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// reserveFor is the configured reserve, or the default for a disk of
// total bytes.
func (c *Config) reserveFor(total uint64) uint64 {
	if c.DiskReserveMB != nil {
		return uint64(*c.DiskReserveMB) << 20
	}
	return max(minReserveBytes, uint64(reserveShare*float64(total)))
}

// DiskSpace returns the space of the disk of a region's files, read at
// most diskSpaceTTL ago.
func (m *Manager) DiskSpace(region string) DiskSpace {
	m.disk.mu.Lock()
	defer m.disk.mu.Unlock()
	if r, ok := m.disk.read[region]; ok && time.Since(r.at) < diskSpaceTTL {
		return r.space
	}
	d := DiskSpace{Region: region}
	if r, ok := m.cfg.Regions[region]; ok {
		d.Path = r.Data
		free, total, err := statDisk(r.Data)
		if err != nil {
			d.Err = err.Error()
		}
		d.Free, d.Total, d.Reserve = free, total, m.cfg.reserveFor(total)
	}
	if m.disk.read == nil {
		m.disk.read = map[string]diskReading{}
	}
	m.disk.read[region] = diskReading{at: time.Now(), space: d}
	return d
}

// DiskSpaces returns the disk space of every region, in RegionNames order.
func (m *Manager) DiskSpaces() []DiskSpace {
	var out []DiskSpace
	for _, name := range m.cfg.RegionNames() {
		out = append(out, m.DiskSpace(name))
	}
	return out
}

// checkReserve refuses heavy work in a region whose disk is below its
// reserve: what room is left belongs to the writes already under way.
func (m *Manager) checkReserve(region string) error {
	d := m.DiskSpace(region)
	if !d.Low() {
		return nil
	}
	return store.Errorf(store.EStorageFull, "The server is low on disk space (%s free, %s kept in reserve), so imports, exports, restores and moves wait until an administrator frees space. Everyday changes still work.",
		store.HumanBytes(int64(d.Free)), store.HumanBytes(int64(d.Reserve)))
}

// checkWorkspaceReserve is checkReserve for the region of a workspace.
func (m *Manager) checkWorkspaceReserve(ctx context.Context, workspaceID string) error {
	w, err := store.GetWorkspace(ctx, m.catalog.R, workspaceID)
	if err != nil {
		return err
	}
	return m.checkReserve(w.Region)
}

// warnLowDisk logs, at start, the regions with less than twice their
// reserve free.
func (m *Manager) warnLowDisk() {
	for _, d := range m.DiskSpaces() {
		if d.Err == "" && d.Free < 2*d.Reserve {
			m.log.Warn("the disk is low on space: heavy work stops below the reserve", "region", d.Region, "path", d.Path,
				"free", store.HumanBytes(int64(d.Free)), "reserve", store.HumanBytes(int64(d.Reserve)))
		}
	}
}
