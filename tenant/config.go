package tenant

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"atrium/outreach"
	"atrium/store"
)

// DefaultRegion is the region of an instance without a config file.
const DefaultRegion = "default"

// DefaultDeletionGrace is how long a deleted workspace stays restorable
// before it is hard-deleted, when the config does not say.
const DefaultDeletionGrace = 7 * 24 * time.Hour

// Config is the parsed litestream.yml: the regions and where each keeps its
// workspace files and their replicas, and how long deleted workspaces wait
// before they are removed for good.
type Config struct {
	Regions map[string]*Region `yaml:"regions"`
	// DeletionGrace is the config key deletion-grace, a Go duration such as
	// 168h; empty means DefaultDeletionGrace.
	DeletionGrace string `yaml:"deletion-grace"`
	// Plans are the named sets of limits and quotas a workspace can have
	// (see plans.go); DefaultPlan is the plan of workspaces given none.
	Plans       map[string]*Plan `yaml:"plans"`
	DefaultPlan string           `yaml:"default_plan"`
	// Prices is the price table of the usage statements (see ledger.go).
	Prices Prices `yaml:"prices"`
	// MasterKeyFile is where the master key is kept (<data>/master.key when
	// empty; ATRIUM_MASTER_KEY overrides both). PublicURL is the base of
	// links in emails when neither --public-url nor ATRIUM_PUBLIC_URL
	// gives one.
	MasterKeyFile string `yaml:"master_key_file"`
	// MasterKeyCommand, when set, is a shell command that prints the
	// master key (for a secret manager); it is used instead of the file.
	MasterKeyCommand string `yaml:"master_key_command"`
	PublicURL        string `yaml:"public_url"`
	// DiskReserveMB is the free space, in MiB, below which heavy work
	// (imports, exports, restores, moves) waits; nil means the larger of
	// 1 GiB and 5% of the disk (see diskspace.go).
	DiskReserveMB *int64 `yaml:"disk_reserve_mb"`
	// MetricsToken, when set, opens /metrics to "Authorization: Bearer <token>".
	MetricsToken string `yaml:"metrics_token"`
	// Mail is the instance's own mail (password reset links); nil sends
	// none (see systemmail.go).
	Mail *MailConfig `yaml:"mail"`

	grace time.Duration
}

// Grace returns how long a trashed workspace stays restorable.
func (c *Config) Grace() time.Duration { return c.grace }

// MailConfig is the SMTP server the instance sends its own mail through.
// SMTP is a URL: smtp://user:password@host:587 speaks STARTTLS,
// smtps://user:password@host:465 TLS from the first byte, and
// smtp://host:25?tls=none plain text to a relay on this machine only.
// From is the sender, "Atrium <no-reply@example.com>".
type MailConfig struct {
	SMTP string `yaml:"smtp"`
	From string `yaml:"from"`

	server outreach.Server // parsed by resolve
	from   mail.Address
}

func (mc *MailConfig) resolve() error {
	if mc == nil {
		return nil
	}
	u, err := url.Parse(mc.SMTP)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("mail: smtp %q is not a URL such as smtp://user:password@smtp.example.com:587", redactURL(mc.SMTP))
	}
	s := outreach.Server{Host: u.Hostname(), Username: u.User.Username()}
	s.Password, _ = u.User.Password()
	switch {
	case u.Scheme == "smtps":
		s.TLSMode, s.Port = store.TLSImplicit, 465
	case u.Scheme == "smtp" && u.Query().Get("tls") == "none":
		if !store.IsLoopbackHost(s.Host) {
			return fmt.Errorf("mail: smtp without TLS (tls=none) is only for a server on this machine, not %s", s.Host)
		}
		s.TLSMode, s.Port = store.TLSNone, 25
	case u.Scheme == "smtp":
		s.TLSMode, s.Port = store.TLSStartTLS, 587
	default:
		return fmt.Errorf("mail: smtp %q must start with smtp:// (STARTTLS) or smtps:// (TLS)", redactURL(mc.SMTP))
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil || s.Port < 1 || s.Port > 65535 {
			return fmt.Errorf("mail: smtp port %q is not a port number", p)
		}
	}
	from, err := mail.ParseAddress(mc.From)
	if err != nil {
		return fmt.Errorf("mail: from %q is not an address such as \"Atrium <no-reply@example.com>\"", mc.From)
	}
	mc.server, mc.from = s, *from
	return nil
}

// redactURL hides the password of a URL shown in an error.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(not shown)"
}

// Region is a place where workspace files and their replicas live. A
// workspace's region is fixed when it is created.
type Region struct {
	Name string `yaml:"-"`
	// Data is the directory of the region's workspace files.
	Data    string         `yaml:"data"`
	Replica *ReplicaConfig `yaml:"replica"`
}

// ReplicaConfig uses Litestream's own key names.
type ReplicaConfig struct {
	URL             string `yaml:"url"`
	Type            string `yaml:"type"`
	Bucket          string `yaml:"bucket"`
	Path            string `yaml:"path"`
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	ForcePathStyle  *bool  `yaml:"force-path-style"`
	AccessKeyID     string `yaml:"access-key-id"`
	SecretAccessKey string `yaml:"secret-access-key"`
	SyncInterval    string `yaml:"sync-interval"`
	// Encrypt, Atrium's own key, encrypts every workspace's replica
	// objects with the workspace's data key (see replicacrypt.go).
	Encrypt bool `yaml:"encrypt"`

	target *replicaTarget // parsed by LoadConfig
}

var regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// LoadConfig reads the config file at path; an empty path means the embedded
// defaults. ${VAR} is expanded from the environment before parsing. Relative
// paths are resolved against the current directory; regions without a data
// directory get one under dataDir, and regions without a replica replicate to
// a directory under dataDir.
func LoadConfig(path, dataDir string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("config file %s does not exist", path)
			}
			return nil, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(os.ExpandEnv(string(b))))
		dec.KnownFields(true) // a misspelt key is an error, not a silent default
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config file %s is not valid: %w", path, err)
		}
	}
	if err := cfg.resolve(dataDir); err != nil {
		return nil, err
	}
	return cfg, nil
}

// resolve checks the config and fills in what it leaves out. LoadConfig
// calls it, and Open calls it again for a Config built in code; it gives
// the same result when run twice.
func (c *Config) resolve(dataDir string) error {
	if err := c.parseGrace(); err != nil {
		return err
	}
	if err := c.resolvePlans(); err != nil {
		return err
	}
	if err := c.Prices.resolve(); err != nil {
		return err
	}
	if err := c.Mail.resolve(); err != nil {
		return err
	}
	if c.MasterKeyFile != "" {
		abs, err := filepath.Abs(c.MasterKeyFile)
		if err != nil {
			return err
		}
		c.MasterKeyFile = abs
	}
	if len(c.Regions) == 0 {
		c.Regions = map[string]*Region{DefaultRegion: nil}
	}
	for name, r := range c.Regions {
		if !regionName.MatchString(name) {
			return fmt.Errorf("region name %q is not valid: use lower-case letters, digits and hyphens", name)
		}
		if r == nil {
			r = &Region{}
			c.Regions[name] = r
		}
		r.Name = name
		if err := r.resolve(dataDir); err != nil {
			return fmt.Errorf("region %s: %w", name, err)
		}
	}
	return c.checkApart()
}

// checkApart refuses regions whose data directories or replicas are the
// same place or one inside the other: moving a workspace between two such
// regions, or deleting it from one, would remove the other's copy.
func (c *Config) checkApart() error {
	type place struct{ what, region, where string }
	var places []place
	for _, name := range c.RegionNames() {
		r := c.Regions[name]
		places = append(places, place{"data directory", name, "file://" + filepath.ToSlash(realPath(r.Data))}, place{"replica", name, r.Replica.target.location()})
	}
	for i, a := range places {
		for _, b := range places[i+1:] {
			if nested(a.where, b.where) || nested(b.where, a.where) {
				return fmt.Errorf("the %s of region %s (%s) and the %s of region %s (%s) overlap; give each its own place",
					a.what, a.region, a.where, b.what, b.region, b.where)
			}
		}
	}
	return nil
}

// nested reports whether the place inner is outer or lies under it; places
// are slash-separated locations such as file:///srv/x or s3://host/bucket/p.
func nested(outer, inner string) bool {
	outer, inner = strings.TrimSuffix(outer, "/"), strings.TrimSuffix(inner, "/")
	return inner == outer || strings.HasPrefix(inner, outer+"/")
}

func (c *Config) parseGrace() error {
	if c.DeletionGrace == "" {
		c.grace = DefaultDeletionGrace
		return nil
	}
	d, err := time.ParseDuration(c.DeletionGrace)
	if err != nil || d < 0 {
		return fmt.Errorf("deletion-grace %q is not a duration such as 168h", c.DeletionGrace)
	}
	c.grace = d
	return nil
}

func (r *Region) resolve(dataDir string) error {
	if r.Data == "" {
		if r.Name == DefaultRegion {
			r.Data = filepath.Join(dataDir, "workspaces")
		} else {
			r.Data = filepath.Join(dataDir, "regions", r.Name)
		}
	}
	abs, err := filepath.Abs(r.Data)
	if err != nil {
		return err
	}
	r.Data = abs
	if r.Replica == nil {
		dir := filepath.Join(dataDir, "replicas")
		if r.Name != DefaultRegion {
			dir = filepath.Join(dataDir, "replicas-"+r.Name)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		r.Replica = &ReplicaConfig{URL: "file://" + abs}
	}
	return r.Replica.resolve()
}

// RegionNames returns the configured region names, sorted, DefaultRegion first.
func (c *Config) RegionNames() []string {
	var names []string
	for n := range c.Regions {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == DefaultRegion) != (names[j] == DefaultRegion) {
			return names[i] == DefaultRegion
		}
		return names[i] < names[j]
	})
	return names
}

// Region returns the named region; "" means the default (the only region, or
// the one named default).
func (c *Config) Region(name string) (*Region, error) {
	if name == "" {
		if r, ok := c.Regions[DefaultRegion]; ok {
			return r, nil
		}
		if len(c.Regions) == 1 {
			for _, r := range c.Regions {
				return r, nil
			}
		}
		return nil, fmt.Errorf("no region given and none is named %s; choose one of %v", DefaultRegion, c.RegionNames())
	}
	r, ok := c.Regions[name]
	if !ok {
		return nil, fmt.Errorf("region %q is not configured; choose one of %v", name, c.RegionNames())
	}
	return r, nil
}
