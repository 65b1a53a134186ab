package tenant

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on the data directory for the life of
// the Manager. Two processes must not run Litestream on the same files: both
// would write LTX files for them and their replica histories would mix, so a
// second atrium command waits for no one and fails instead.
func lockDataDir(dataDir string) (*os.File, error) {
	path := filepath.Join(dataDir, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot lock the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, &LockedError{DataDir: dataDir}
	}
	return f, nil
}

// LockedError is Open's answer when another process holds the data
// directory's lock; the CLI then hands its command to a running server.
type LockedError struct{ DataDir string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another atrium process is using the data directory %s; stop it first (two processes would replicate the same files and corrupt their backups)", e.DataDir)
}

// warnCABundle says, once per start, that AWS_CA_BUNDLE does not apply to
// replication when it names something other than the system roots.
func (m *Manager) warnCABundle() {
	bundle := os.Getenv("AWS_CA_BUNDLE")
	if bundle == "" || bundle == os.Getenv("SSL_CERT_FILE") {
		return
	}
	for _, r := range m.cfg.Regions {
		if r.Replica != nil && r.Replica.target != nil && r.Replica.target.kind == "s3" {
			m.log.Warn("AWS_CA_BUNDLE is ignored by replication, which trusts the system roots; put a private CA in SSL_CERT_FILE or SSL_CERT_DIR", "AWS_CA_BUNDLE", bundle)
			return
		}
	}
}
