package handlers

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAPI_CreateContact measures contacts created per second through
// POST /api/v1/contacts: key check, JSON, validation, the insert with its
// tags, search index, timeline and audit rows, and the read back. One
// client waits for each answer; "parallel" runs GOMAXPROCS clients at once.
//
//	go test ./handlers -run '^$' -bench BenchmarkAPI_CreateContact -benchtime 3s -count 5
func BenchmarkAPI_CreateContact(b *testing.B) {
	ts := newTestServer(b)
	key, _ := ts.mustAPIKey(b, ts.mustWorkspace(b, "Bench", ""), "write")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	create := func() error {
		n := seq.Add(1)
		body := fmt.Sprintf(`{"first_name":"Ana","last_name":"Silva %d","email":"ana.%d@example.com","title":"Buyer","tags":["bench"]}`, n, n)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/contacts", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			if err := create(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "contacts/s")
	})
	b.Run("parallel", func(b *testing.B) {
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := create(); err != nil {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "contacts/s")
	})
}
