package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	lsfile "github.com/benbjohnson/litestream/file"
	lss3 "github.com/benbjohnson/litestream/s3"
)

// catalogPrefix is where the catalog replicates, under the default region's
// replica. Workspace prefixes are UUIDs, so it cannot clash with one.
const catalogPrefix = "catalog"

// replicaTarget is a region's replica after parsing: a directory, or an S3
// bucket and key prefix. Every database gets its own prefix below it.
type replicaTarget struct {
	kind string // "file" or "s3"
	dir  string // file: absolute directory

	bucket, prefix, endpoint, region string
	forcePathStyle                   bool
	accessKeyID, secretAccessKey     string

	syncInterval time.Duration // 0: Litestream's default
	encrypt      bool          // workspace (and catalog) objects are encrypted; see replicacrypt.go
	place        string        // see location; set once parsed
}

// resolve checks the replica settings and turns them into a target. A url
// gives the defaults; the explicit keys override them, as in Litestream.
func (c *ReplicaConfig) resolve() error {
	t, err := c.parse()
	if err != nil {
		return err
	}
	c.target = t
	return nil
}

func (c *ReplicaConfig) parse() (*replicaTarget, error) {
	t := &replicaTarget{kind: c.Type}
	if c.URL != "" {
		if err := t.parseURL(c.URL); err != nil {
			return nil, err
		}
	}
	t.override(c)
	t.encrypt = c.Encrypt
	if c.SyncInterval != "" {
		d, err := time.ParseDuration(c.SyncInterval)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("replica sync-interval %q is not a positive duration such as 1s", c.SyncInterval)
		}
		t.syncInterval = d
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	t.place = t.locate()
	return t, nil
}

func (t *replicaTarget) parseURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Errorf("replica url %q has no scheme; use file:// or s3://", raw)
	}
	switch scheme {
	case "file":
		// file://./rel and file:///abs both name a path; url.Parse would
		// take "." for a host.
		p, _, _ := strings.Cut(rest, "?")
		t.kind, t.dir = "file", p
		return nil
	case "s3":
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("replica url %q is not valid: %w", raw, err)
		}
		q := u.Query()
		t.kind, t.bucket, t.prefix = "s3", u.Host, strings.Trim(u.Path, "/")
		t.endpoint, t.region = q.Get("endpoint"), q.Get("region")
		t.forcePathStyle = t.endpoint != "" // Litestream's default for custom endpoints
		if v := q.Get("force-path-style"); v != "" {
			t.forcePathStyle, _ = strconv.ParseBool(v)
		}
		return nil
	default:
		return fmt.Errorf("replica url %q: scheme %q is not supported; use file:// or s3://", raw, scheme)
	}
}

func (t *replicaTarget) override(c *ReplicaConfig) {
	if c.Type != "" {
		t.kind = c.Type
	}
	if c.Path != "" {
		if t.kind == "file" {
			t.dir = c.Path
		} else {
			t.prefix = strings.Trim(c.Path, "/")
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&t.bucket, c.Bucket)
	set(&t.endpoint, c.Endpoint)
	set(&t.region, c.Region)
	set(&t.accessKeyID, c.AccessKeyID)
	set(&t.secretAccessKey, c.SecretAccessKey)
	if c.Endpoint != "" && c.ForcePathStyle == nil {
		t.forcePathStyle = true
	}
	if c.ForcePathStyle != nil {
		t.forcePathStyle = *c.ForcePathStyle
	}
}

func (t *replicaTarget) check() error {
	switch t.kind {
	case "file":
		if t.dir == "" {
			return errors.New("file replica has no path")
		}
		abs, err := filepath.Abs(t.dir)
		if err != nil {
			return err
		}
		t.dir = abs
	case "s3":
		if t.bucket == "" {
			return errors.New("s3 replica has no bucket")
		}
	case "":
		return errors.New("replica needs a url, or a type of s3 or file")
	default:
		return fmt.Errorf("replica type %q is not supported; use s3 or file", t.kind)
	}
	return nil
}

// String names the target for messages, without secrets.
func (t *replicaTarget) String() string {
	if t.kind == "file" {
		return "file://" + t.dir
	}
	s := "s3://" + t.bucket + "/" + t.prefix
	if t.endpoint != "" {
		s += " at " + t.endpoint
	}
	return s
}

// location names the place the target stores its files, for comparing
// targets: file:///dir (symlinks resolved), or s3://service/bucket/prefix.
// It is worked out once, when the config is read: every registration of a
// file uses it.
func (t *replicaTarget) location() string { return t.place }

func (t *replicaTarget) locate() string {
	if t.kind == "file" {
		return "file://" + filepath.ToSlash(realPath(t.dir))
	}
	return "s3://" + s3Service(t.endpoint) + "/" + t.bucket + "/" + strings.Trim(t.prefix, "/")
}

// s3Service names the S3 service an endpoint reaches: "aws" for AWS however
// it is written (bucket names are global there), else the endpoint's host.
func s3Service(endpoint string) string {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	host = strings.ToLower(host)
	if host == "" || host == "amazonaws.com" || strings.HasSuffix(host, ".amazonaws.com") {
		return "aws"
	}
	return host
}

// realPath resolves the symlinks in path, as far as it exists.
func realPath(path string) string {
	rest := ""
	for dir := filepath.Clean(path); ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(dir) == dir {
			return path
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// client returns a replica client for the database stored under the given
// prefix elements, e.g. a workspace id and generation.
func (t *replicaTarget) client(elems ...string) litestream.ReplicaClient {
	if t.kind == "file" {
		return lsfile.NewReplicaClient(filepath.Join(append([]string{t.dir}, elems...)...))
	}
	c := lss3.NewReplicaClient()
	c.Bucket = t.bucket
	c.Path = path.Join(append([]string{t.prefix}, elems...)...)
	c.Endpoint, c.Region, c.ForcePathStyle = t.endpoint, t.region, t.forcePathStyle
	c.AccessKeyID, c.SecretAccessKey = t.accessKeyID, t.secretAccessKey
	return c
}

// replicaClient returns the initialised client of the replica under elems
// of t. When t encrypts and elems[0] is a workspace id, the client
// encrypts and decrypts with the workspace's data keys (made now if it has
// none, for a registration that will write). The catalog's replica, when
// t encrypts, is encrypted with the master key (replicacrypt_catalog.go).
func (m *Manager) replicaClient(ctx context.Context, t *replicaTarget, elems ...string) (litestream.ReplicaClient, error) {
	c := t.client(elems...)
	if err := initClient(ctx, c, t); err != nil {
		return nil, err
	}
	if !t.encrypt || len(elems) == 0 {
		return c, nil
	}
	if elems[0] == catalogPrefix {
		return newCatalogCryptClient(c, m.master), nil
	}
	id := elems[0]
	return newCryptClient(c, id, func(ctx context.Context) (*workspaceKeySet, error) {
		return m.workspaceKeys(ctx, id, false)
	}), nil
}

// writingReplicaClient is replicaClient for a registration: the workspace
// gets its data key now, outside any catalog transaction, not at the first
// upload.
func (m *Manager) writingReplicaClient(ctx context.Context, t *replicaTarget, elems []string) (litestream.ReplicaClient, error) {
	if t.encrypt && len(elems) > 0 && elems[0] != catalogPrefix {
		if _, err := m.workspaceKeys(ctx, elems[0], true); err != nil {
			return nil, fmt.Errorf("cannot get the data key of workspace %s: %w", elems[0], err)
		}
	}
	return m.replicaClient(ctx, t, elems...)
}

// awsEnvMu serialises the moments when AWS_CA_BUNDLE is hidden.
var awsEnvMu sync.Mutex

// initClient initialises a replica client now rather than at its first use,
// so a misconfiguration is an error here instead of a log line later.
//
// The AWS SDK refuses to load when AWS_CA_BUNDLE is set and a custom HTTP
// client is passed, which Litestream always does. The variable is hidden
// while the SDK loads its config; Litestream's HTTP client verifies TLS with
// Go's system roots, which honour SSL_CERT_FILE and SSL_CERT_DIR, so a
// private CA goes there (see the README).
func initClient(ctx context.Context, c litestream.ReplicaClient, t *replicaTarget) error {
	if t.kind != "s3" {
		return nil
	}
	awsEnvMu.Lock()
	defer awsEnvMu.Unlock()
	if v, ok := os.LookupEnv("AWS_CA_BUNDLE"); ok {
		os.Unsetenv("AWS_CA_BUNDLE")
		defer os.Setenv("AWS_CA_BUNDLE", v)
	}
	if err := c.Init(ctx); err != nil {
		return fmt.Errorf("cannot use the replica %s: %w", t, err)
	}
	return nil
}
