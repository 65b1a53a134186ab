package tenant

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"atrium/store"
)

// DefaultPlanName is the plan of a workspace that was given none, when the
// config names no default_plan.
const DefaultPlanName = "default"

// Quota is a resource a plan may bound per workspace.
type Quota string

const (
	QuotaContacts       Quota = "contacts"
	QuotaStorageMB      Quota = "storage_mb"
	QuotaMembers        Quota = "members"
	QuotaEmailsPerDay   Quota = "emails_per_day"
	QuotaAPICallsPerDay Quota = "api_calls_per_day"
	QuotaImportsPerDay  Quota = "imports_per_day"
)

// Quotas lists every quota in the order pages show them.
var Quotas = []Quota{QuotaContacts, QuotaStorageMB, QuotaMembers, QuotaEmailsPerDay, QuotaAPICallsPerDay, QuotaImportsPerDay}

// Label is how people read the quota's name.
func (q Quota) Label() string {
	switch q {
	case QuotaStorageMB:
		return "storage (MB)"
	case QuotaAPICallsPerDay:
		return "API calls per day"
	}
	return strings.ReplaceAll(string(q), "_", " ")
}

// Plan is a named set of limits from the config's plans: key. A limit left
// out (nil) means no limit; so does a rate of 0.
type Plan struct {
	Name string `yaml:"-"`
	// RequestsPerSecond and Burst bound the web and API requests of one
	// workspace; KeyRequestsPerSecond and KeyBurst those of one API key
	// (the workspace's values when absent).
	RequestsPerSecond    float64 `yaml:"requests_per_second"`
	Burst                int     `yaml:"burst"`
	KeyRequestsPerSecond float64 `yaml:"key_requests_per_second"`
	KeyBurst             int     `yaml:"key_burst"`

	Contacts       *int64 `yaml:"contacts"`
	StorageMB      *int64 `yaml:"storage_mb"`
	Members        *int64 `yaml:"members"`
	EmailsPerDay   *int64 `yaml:"emails_per_day"`
	APICallsPerDay *int64 `yaml:"api_calls_per_day"`
	ImportsPerDay  *int64 `yaml:"imports_per_day"`
}

// Limit returns the plan's limit of q, and false when it sets none.
func (p *Plan) Limit(q Quota) (int64, bool) {
	var v *int64
	switch q {
	case QuotaContacts:
		v = p.Contacts
	case QuotaStorageMB:
		v = p.StorageMB
	case QuotaMembers:
		v = p.Members
	case QuotaEmailsPerDay:
		v = p.EmailsPerDay
	case QuotaAPICallsPerDay:
		v = p.APICallsPerDay
	case QuotaImportsPerDay:
		v = p.ImportsPerDay
	}
	if v == nil {
		return 0, false
	}
	return *v, true
}

// Rate is a token bucket's refill per second and size; a zero Rate is no
// limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// WorkspaceRate is the bucket of a workspace's requests.
func (p *Plan) WorkspaceRate() Rate { return Rate{p.RequestsPerSecond, p.Burst} }

// KeyRate is the bucket of one API key's requests.
func (p *Plan) KeyRate() Rate { return Rate{p.KeyRequestsPerSecond, p.KeyBurst} }

// Summary says the plan's limits in one line.
func (p *Plan) Summary() string {
	var parts []string
	if p.RequestsPerSecond > 0 {
		parts = append(parts, fmt.Sprintf("%g requests/s (burst %d)", p.RequestsPerSecond, p.Burst))
	}
	for _, q := range Quotas {
		if v, ok := p.Limit(q); ok {
			parts = append(parts, fmt.Sprintf("%s %d", q.Label(), v))
		}
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func (p *Plan) resolve(name string) error {
	p.Name = name
	if p.RequestsPerSecond < 0 || p.KeyRequestsPerSecond < 0 || p.Burst < 0 || p.KeyBurst < 0 {
		return fmt.Errorf("plan %s: rates and bursts cannot be negative", name)
	}
	p.Burst = defaultBurst(p.RequestsPerSecond, p.Burst)
	if p.KeyRequestsPerSecond == 0 {
		p.KeyRequestsPerSecond, p.KeyBurst = p.RequestsPerSecond, max(p.KeyBurst, p.Burst)
	}
	p.KeyBurst = defaultBurst(p.KeyRequestsPerSecond, p.KeyBurst)
	for _, q := range Quotas {
		if v, ok := p.Limit(q); ok && v < 0 {
			return fmt.Errorf("plan %s: %s cannot be negative", name, q)
		}
	}
	return nil
}

// defaultBurst is twice the rate (at least 1) when a plan gives a rate and
// no burst.
func defaultBurst(rate float64, burst int) int {
	if rate > 0 && burst == 0 {
		return max(1, int(math.Ceil(2*rate)))
	}
	return burst
}

// resolvePlans checks the plans and the default one. With no plans: key,
// the default plan has no limits.
func (c *Config) resolvePlans() error {
	if len(c.Plans) == 0 {
		c.Plans = map[string]*Plan{DefaultPlanName: {}}
	}
	if c.DefaultPlan == "" {
		c.DefaultPlan = DefaultPlanName
	}
	for name, p := range c.Plans {
		if !regionName.MatchString(name) {
			return fmt.Errorf("plan name %q is not valid: use lower-case letters, digits and hyphens", name)
		}
		if p == nil {
			p = &Plan{}
			c.Plans[name] = p
		}
		if err := p.resolve(name); err != nil {
			return err
		}
	}
	if _, ok := c.Plans[c.DefaultPlan]; !ok {
		return fmt.Errorf("default_plan %q is not one of the plans %v", c.DefaultPlan, c.PlanNames())
	}
	return nil
}

// PlanNames returns the configured plan names, sorted.
func (c *Config) PlanNames() []string {
	names := make([]string, 0, len(c.Plans))
	for n := range c.Plans {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// planBook remembers each workspace's plan name so a request does not
// read the catalog for it; SetPlan forgets the entry it changes.
type planBook struct {
	mu    sync.Mutex
	names map[string]string
}

// Plan returns the plan of a workspace: its own, or the default one when
// it has none or names a plan no longer in the config.
func (m *Manager) Plan(ctx context.Context, workspaceID string) (*Plan, error) {
	m.plans.mu.Lock()
	name, ok := m.plans.names[workspaceID]
	m.plans.mu.Unlock()
	if !ok {
		var err error
		if name, err = store.WorkspacePlan(ctx, m.catalog.R, workspaceID); err != nil {
			return nil, err
		}
		m.plans.mu.Lock()
		if len(m.plans.names) > maxRememberedPlans {
			clear(m.plans.names)
		}
		m.plans.names[workspaceID] = name
		m.plans.mu.Unlock()
	}
	if p, ok := m.cfg.Plans[name]; ok {
		return p, nil
	}
	return m.cfg.Plans[m.cfg.DefaultPlan], nil
}

// maxRememberedPlans bounds the plan book; past it, it starts over.
const maxRememberedPlans = 100_000

// Plans returns the configured plans, sorted by name.
func (m *Manager) Plans() []*Plan {
	var ps []*Plan
	for _, n := range m.cfg.PlanNames() {
		ps = append(ps, m.cfg.Plans[n])
	}
	return ps
}

// DefaultPlan is the name of the plan of workspaces that were given none.
func (m *Manager) DefaultPlan() string { return m.cfg.DefaultPlan }

// SetPlan gives a workspace a plan from the config.
func (m *Manager) SetPlan(ctx context.Context, workspaceID, name string) (*Plan, error) {
	p, ok := m.cfg.Plans[name]
	if !ok {
		return nil, store.FieldError("plan", "There is no plan %q; the plans are %s.", name, strings.Join(m.cfg.PlanNames(), ", "))
	}
	if err := store.SetWorkspacePlan(ctx, m.catalog.W, workspaceID, name); err != nil {
		return nil, err
	}
	m.plans.mu.Lock()
	delete(m.plans.names, workspaceID)
	m.plans.mu.Unlock()
	return p, nil
}
