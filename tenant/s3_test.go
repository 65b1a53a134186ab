package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"atrium/store"
)

// s3Server is an S3 endpoint for tests: gofakes3 in process, or the real
// gateway named by ATRIUM_TEST_S3_ENDPOINT (with ATRIUM_TEST_S3_ACCESS_KEY,
// ATRIUM_TEST_S3_SECRET_KEY and ATRIUM_TEST_S3_BUCKET). Each test works
// under its own key prefix, so tests never see each other's objects.
type s3Server struct {
	endpoint, bucket, key, secret string
	prefix                        string
	requests                      atomic.Int64 // in-process server only
	lists                         atomic.Int64
}

func newS3(tb testing.TB) *s3Server {
	tb.Helper()
	s := &s3Server{prefix: "test-" + randomHex(tb)}
	if ep := os.Getenv("ATRIUM_TEST_S3_ENDPOINT"); ep != "" {
		s.endpoint, s.bucket = ep, os.Getenv("ATRIUM_TEST_S3_BUCKET")
		s.key, s.secret = os.Getenv("ATRIUM_TEST_S3_ACCESS_KEY"), os.Getenv("ATRIUM_TEST_S3_SECRET_KEY")
		if s.bucket == "" || s.key == "" || s.secret == "" {
			tb.Fatal("ATRIUM_TEST_S3_ENDPOINT is set without ATRIUM_TEST_S3_BUCKET, _ACCESS_KEY and _SECRET_KEY")
		}
		return s
	}
	backend := s3mem.New()
	s.bucket, s.key, s.secret = "atrium-test", "test-key", "test-secret"
	if err := backend.CreateBucket(s.bucket); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(s.count(gofakes3.New(backend).Server()))
	tb.Cleanup(srv.Close)
	s.endpoint = srv.URL
	return s
}

// count counts the requests, and the LIST requests among them.
func (s *s3Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method == http.MethodGet && strings.Trim(r.URL.Path, "/") == s.bucket {
			s.lists.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

func randomHex(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// replicaYAML is a region's replica block in Litestream's key names.
func (s *s3Server) replicaYAML(path string) string {
	return fmt.Sprintf(`    replica:
      type: s3
      bucket: %s
      path: %s
      endpoint: %s
      region: us-east-1
      access-key-id: %s
      secret-access-key: %s
`, s.bucket, s.prefix+"/"+path, s.endpoint, s.key, s.secret)
}

// keys lists every object key under the test's prefix plus sub, through
// the AWS SDK directly (not through Litestream).
func (s *s3Server) keys(tb testing.TB, sub string) []string {
	tb.Helper()
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(s.endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.key, s.secret, ""),
	})
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + "/" + sub)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(*o.Key, s.prefix+"/"))
		}
	}
	return keys
}

func TestS3_ReplicateRestoreDelete(t *testing.T) {
	ctx := context.Background()
	s := newS3(t)
	dataDir := t.TempDir()
	cfg := mustConfig(t, dataDir, "regions:\n  default:\n"+s.replicaYAML("ws"))
	m := openWithConfig(t, dataDir, cfg)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	addCompany(t, m, a.ID, "a1")
	afterFirst := syncedMoment(t, m, a.ID)
	addCompany(t, m, a.ID, "a2")
	addCompany(t, m, b.ID, "b1")
	mustSync(t, m, a.ID)
	mustSync(t, m, b.ID)
	path, _ := m.FilePath(a)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.keys(t, "ws/"+a.ID+"/")) == 0 || len(s.keys(t, "ws/catalog/")) == 0 {
		t.Fatalf("nothing replicated: %v", s.keys(t, ""))
	}

	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := companyNames(t, m, a.ID); got != "a1,a2" {
		t.Fatalf("rows after losing the file = %q", got)
	}
	n, err := m.Restore(ctx, a.ID, RestoreOptions{At: afterFirst, AsNew: "A before"})
	if err != nil {
		t.Fatal(err)
	}
	if got := companyNames(t, m, n.ID); got != "a1" {
		t.Fatalf("point-in-time rows = %q, want a1", got)
	}

	bKeys := s.keys(t, "ws/"+b.ID+"/")
	if _, err := m.Delete(ctx, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if left := s.keys(t, "ws/"+a.ID+"/"); len(left) != 0 {
		t.Fatalf("objects left under the deleted workspace's prefix: %v", left)
	}
	if after := s.keys(t, "ws/"+b.ID+"/"); len(after) < len(bKeys) {
		t.Fatalf("other workspace's replica changed: %v -> %v", bKeys, after)
	}
}

func TestS3_RegionsKeepObjectsApart(t *testing.T) {
	ctx := context.Background()
	s := newS3(t)
	dataDir := t.TempDir()
	cfg := mustConfig(t, dataDir, "regions:\n  default:\n"+s.replicaYAML("us")+"  eu:\n"+s.replicaYAML("eu"))
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	us := mustCreate(t, m, "US")
	eu, err := m.Create(ctx, CreateOptions{Name: "EU", Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	addCompany(t, m, us.ID, "us")
	addCompany(t, m, eu.ID, "eu")
	mustSync(t, m, us.ID)
	mustSync(t, m, eu.ID)
	for _, k := range s.keys(t, "us/") {
		if !strings.HasPrefix(k, "us/"+us.ID+"/") && !strings.HasPrefix(k, "us/catalog/") {
			t.Errorf("unexpected object in us: %s", k)
		}
	}
	euKeys := s.keys(t, "eu/")
	for _, k := range euKeys {
		if !strings.HasPrefix(k, "eu/"+eu.ID+"/") {
			t.Errorf("unexpected object in eu: %s", k)
		}
	}
	if len(euKeys) == 0 {
		t.Fatal("nothing replicated in eu")
	}
}

// TestS3_WithCABundleSet runs the S3 path with AWS_CA_BUNDLE pointing at a
// real bundle, as on this project's CI machines, where the AWS SDK would
// otherwise refuse Litestream's HTTP client.
func TestS3_WithCABundleSet(t *testing.T) {
	bundle := os.Getenv("AWS_CA_BUNDLE")
	if bundle == "" {
		bundle = "/etc/ssl/certs/ca-certificates.crt"
		if _, err := os.Stat(bundle); err != nil {
			t.Skip("no CA bundle on this machine")
		}
		t.Setenv("AWS_CA_BUNDLE", bundle)
	}
	s := newS3(t)
	dataDir := t.TempDir()
	cfg := mustConfig(t, dataDir, "regions:\n  default:\n"+s.replicaYAML("ca"))
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Bundled")
	addCompany(t, m, w.ID, "x")
	mustSync(t, m, w.ID)
	if _, err := m.Restore(context.Background(), w.ID, RestoreOptions{AsNew: "Copy"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("AWS_CA_BUNDLE"); got != bundle {
		t.Fatalf("AWS_CA_BUNDLE = %q after use, want %q", got, bundle)
	}
}

func TestS3_UnreachableFailsClearly(t *testing.T) {
	dataDir := t.TempDir()
	cfg := mustConfig(t, dataDir, `regions:
  default:
    replica:
      url: s3://nowhere/x?endpoint=http://127.0.0.1:1&region=us-east-1
      access-key-id: k
      secret-access-key: s
`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Open(ctx, Options{DataDir: dataDir, Config: cfg, SyncInterval: testSyncInterval})
	if err == nil {
		m.Close()
		t.Fatal("opened with an unreachable replica and no catalog")
	}
	if !strings.Contains(err.Error(), "s3://nowhere/x") {
		t.Fatalf("err = %v", err)
	}
	if code := store.ErrorCode(err); code != store.EInternal {
		t.Fatalf("code = %s", code)
	}
}
