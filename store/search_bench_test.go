package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Search benchmarks on generated workspaces of 100,000 and 1,000,000
// contacts. A workspace takes from seconds to minutes to generate, so it
// is kept under the OS temp dir, keyed by size and schema version, and
// reused by later runs (delete atrium-bench-search-* there to regenerate).
//
//	go test ./store -run '^$' -bench 'Search(100k|1M)' -benchtime 200x
//
// search-parallel and list-parallel report requests per second with as
// many callers as cores.
//
// Names follow a long-tailed distribution: the commonest surname
// ("Okafor") and first name ("Mariko") are each on about 6.6% of the
// contacts (66,000 of a million), as common names are in a real book.

// benchFirst and benchLast are drawn with Zipf-like weights: the first of
// each list is the commonest.
var (
	benchFirst = []string{"Mariko", "Ana", "John", "Maria", "David", "Li", "Fatima", "Jonas", "Grace", "Mateo", "Priya", "Omar",
		"Elif", "Hiro", "Ines", "Kwame", "Lena", "Nora", "Femi", "Carla", "Dmitri", "Bo", "Sofia", "Lucas", "Emma", "Noah",
		"Olivia", "Liam", "Aisha", "Yuki", "Chen", "Raj", "Zoë", "José", "Björn", "Åsa", "Renée", "Søren", "Ömer", "Łukasz"}
	benchLast = []string{"Okafor", "Silva", "Smith", "Müller", "García", "Tanaka", "Chen", "Kowalski", "Novak", "Berg",
		"Haddad", "Johansson", "Rossi", "Nguyen", "Kim", "Patel", "Singh", "Cohen", "Dubois", "Martin", "Jensen",
		"Nakamura", "Yilmaz", "Ivanov", "Schmidt", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Núñez", "Öztürk"}
	benchTitles = []string{"Buyer", "CEO", "CTO", "Head of Sales", "Procurement", "Engineer", "Office Manager", "Founder"}
	benchWords  = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
		"Wonka", "Oscorp", "Aperture", "Massive", "Dynamic", "Blue", "North", "Pacific", "Atlas", "Nimbus"}
	benchSuffixes = []string{"Ltd", "GmbH", "Inc", "SA", "Group", "Labs", "Systems", "Partners", "Logistics", "Foods"}
)

// zipfPick returns an index in [0, n) with weight 1/(i+k): the larger k,
// the flatter the distribution.
type zipfPick struct{ cum []float64 }

func newZipf(n, k int) zipfPick {
	z := zipfPick{cum: make([]float64, n)}
	total := 0.0
	for i := range n {
		total += 1 / float64(i+k)
		z.cum[i] = total
	}
	for i := range z.cum {
		z.cum[i] /= total
	}
	return z
}

func (z zipfPick) pick(r *rand.Rand) int {
	return sort.SearchFloat64s(z.cum, r.Float64())
}

// benchSearchWorkspace returns a read-mostly workspace of n contacts,
// generated once per schema version.
func benchSearchWorkspace(b *testing.B, n int) *DB {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-%d-v%d.db", n, LatestVersion(WorkspaceSchema)))
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		os.Remove(tmp)
		os.Remove(tmp + "-wal")
		os.Remove(tmp + "-shm")
		start := time.Now()
		if err := generateSearchWorkspace(tmp, n); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %s in %s", path, time.Since(start).Round(time.Second))
	}
	db, err := Open(path, OpenOptions{Transient: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, _, err := Migrate(context.Background(), db, WorkspaceSchema); err != nil {
		b.Fatal(err)
	}
	return db
}

// generateSearchWorkspace writes n contacts, n/200 companies (among them
// "Cyberdyne" and "Müller & Söhne GmbH"), n/50 deals and n/20 notes
// through the ordinary tables, so the schema's own triggers index them.
func generateSearchWorkspace(path string, n int) error {
	ctx := context.Background()
	db, err := Open(path, OpenOptions{Create: true, Transient: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		return err
	}
	ps, err := Pipelines(ctx, db)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(7, 11))
	// k=8 gives the first of 40 first names 6.8% of the draws; k=6 the
	// first of 32 surnames 8.7%, of the 75% drawn from the list (6.5%).
	zf, zl, zw := newZipf(len(benchFirst), 8), newZipf(len(benchLast), 6), newZipf(len(benchWords), 1)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := db.W.Beginx()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	nco := max(n/200, 50)
	type company struct{ id, domain string }
	companies := make([]company, nco)
	for i := range companies {
		name := benchWords[zw.pick(r)] + " " + benchSuffixes[r.IntN(len(benchSuffixes))]
		if i%7 == 0 {
			name = benchWords[zw.pick(r)] + " " + benchLast[zl.pick(r)] + " " + benchSuffixes[r.IntN(len(benchSuffixes))]
		}
		switch i {
		case nco / 3:
			name = "Cyberdyne"
		case nco / 2:
			name = "Müller & Söhne GmbH"
		}
		domain := strings.ToLower(strings.NewReplacer(" ", "", "&", "", "ü", "ue", "ö", "oe").Replace(name)) + fmt.Sprint(i) + ".example"
		if name == "Cyberdyne" {
			domain = "cyberdyne.example"
		}
		companies[i] = company{newID(), domain}
		at := base.Add(time.Duration(i) * time.Minute)
		if _, err := tx.Exec(`INSERT INTO companies (id, name, domain, industry, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			companies[i].id, name, domain, benchTitles[r.IntN(len(benchTitles))], at, at); err != nil {
			return err
		}
	}
	stmt, err := tx.Prepare(`INSERT INTO contacts (id, first_name, last_name, email, phone, title, company_id, stage, custom, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	ids := make([]string, n)
	for i := range n {
		f, l := benchFirst[zf.pick(r)], benchLast[zl.pick(r)]
		if r.IntN(4) == 0 { // a long tail of rare surnames
			l = benchWords[r.IntN(len(benchWords))] + []string{"son", "ez", "ova", "ini", "berg", "ström"}[r.IntN(6)]
		}
		co := companies[zw.pick(r)%nco]
		if r.IntN(3) == 0 {
			co = companies[r.IntN(nco)]
		}
		ids[i] = fmt.Sprintf("00000000-0000-7000-8000-%012d", i)
		at := base.Add(time.Duration(i) * time.Second)
		custom := fmt.Sprintf(`{"city":%q}`, benchWords[r.IntN(len(benchWords))]+"ville")
		if _, err := stmt.Exec(ids[i], f, l, fmt.Sprintf("%s.%s.%d@%s", strings.ToLower(f), strings.ToLower(l), i, co.domain),
			fmt.Sprintf("+49 30 %07d", r.IntN(10_000_000)), benchTitles[r.IntN(len(benchTitles))], co.id,
			Stages[r.IntN(len(Stages))], custom, at, at); err != nil {
			return err
		}
	}
	stmt.Close()
	for i := range n / 50 {
		co := companies[r.IntN(nco)]
		at := base.Add(time.Duration(i) * time.Minute)
		title := benchWords[zw.pick(r)] + " " + []string{"renewal", "expansion", "pilot", "licences", "onboarding"}[r.IntN(5)]
		if _, err := tx.Exec(`INSERT INTO deals (id, title, value_minor, pipeline_id, stage_id, contact_id, company_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, newID(), title, r.IntN(10_000_000), ps[0].ID, ps[0].Stages[r.IntN(len(ps[0].Stages))].ID,
			ids[r.IntN(n)], co.id, at, at); err != nil {
			return err
		}
	}
	topics := []string{"Discussed the renewal budget with", "Call about the pilot, follow up with", "Sent pricing to", "Met at the fair:",
		"Intro from Cyberdyne, ask about", "Wants a demo of the reporting for"}
	for i := range n / 20 {
		c := r.IntN(n)
		at := base.Add(time.Duration(i) * time.Second)
		body := topics[r.IntN(len(topics))] + " " + benchFirst[zf.pick(r)] + " " + benchLast[zl.pick(r)] + " next week."
		if _, err := tx.Exec(`INSERT INTO notes (id, contact_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			newID(), ids[c], body, at, at); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.W.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// benchQueries mixes a common surname and first name (about 66,000
// matches of a million each), both together, short and long prefixes,
// an email, a company and a word that matches nothing.
var benchQueries = []string{"okafor", "mariko", "mariko okafor", "an", "sil", "jonas.johansson", "cyberdyne", "Müller", "renewal", "zzqx"}

// timeQueries runs fn over the queries in turn b.N times and reports the
// median and 99th percentile of one call, in milliseconds.
func timeQueries(b *testing.B, fn func(q string) error) {
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := benchQueries[i%len(benchQueries)]
		start := time.Now()
		if err := fn(q); err != nil {
			b.Fatalf("%q: %v", q, err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func benchSearch(b *testing.B, n int) {
	db := benchSearchWorkspace(b, n)
	ctx := context.Background()
	b.Run("search", func(b *testing.B) {
		timeQueries(b, func(q string) error { _, err := Search(ctx, db, q, 20); return err })
	})
	b.Run("list", func(b *testing.B) {
		timeQueries(b, func(q string) error {
			_, _, err := ListContacts(ctx, db, ContactFilter{Query: q, Limit: 50})
			return err
		})
	})
	b.Run("list-name", func(b *testing.B) {
		timeQueries(b, func(q string) error {
			_, _, err := ListContacts(ctx, db, ContactFilter{Query: q, Sort: "name", Asc: true, Limit: 50})
			return err
		})
	})
	b.Run("count", func(b *testing.B) {
		timeQueries(b, func(q string) error { _, err := CountContacts(ctx, db, ContactFilter{Query: q}); return err })
	})
	// Throughput with as many callers as cores (the read pool's size).
	parallel := func(b *testing.B, fn func(q string) error) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if q := benchQueries[next.Add(1)%int64(len(benchQueries))]; fn(q) != nil {
					b.Error(fn(q))
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("search-parallel", func(b *testing.B) {
		parallel(b, func(q string) error { _, err := Search(ctx, db, q, 20); return err })
	})
	b.Run("list-parallel", func(b *testing.B) {
		parallel(b, func(q string) error {
			_, _, err := ListContacts(ctx, db, ContactFilter{Query: q, Limit: 50})
			return err
		})
	})
}

// BenchmarkSearch100k times search, the contact list with a query (newest
// first and by name) and its count in a workspace of 100,000 contacts.
func BenchmarkSearch100k(b *testing.B) { benchSearch(b, 100_000) }

// BenchmarkSearch1M is BenchmarkSearch100k at 1,000,000 contacts.
func BenchmarkSearch1M(b *testing.B) { benchSearch(b, 1_000_000) }
