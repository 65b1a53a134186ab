package handlers

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A body that stops arriving gets 408 once its deadline passes: forms and
// JSON quickly, uploads (here a CSV posted to the API) later but still.
func TestSlowBodies_TimeOut(t *testing.T) {
	defer func(b, u time.Duration) { bodyReadTimeout, uploadReadTimeout = b, u }(bodyReadTimeout, uploadReadTimeout)
	bodyReadTimeout, uploadReadTimeout = 200*time.Millisecond, 600*time.Millisecond
	ts := newTestServer(t)
	ts.mustUser(t, "owner@example.com", false)
	id := ts.mustWorkspace(t, "Acme", "owner@example.com")
	key, _ := ts.mustAPIKey(t, id, "write")
	cases := []struct {
		name, path, contentType, auth, part string
		atLeast                             time.Duration
	}{
		{"sign-in form", "/login", "application/x-www-form-urlencoded", "", "email=a%40example.com&pass", 200 * time.Millisecond},
		{"API JSON", "/api/v1/contacts", "application/json", "Bearer " + key, `{"first_name":"Sl`, 200 * time.Millisecond},
		{"API CSV import", "/api/v1/contacts/import", "text/csv", "Bearer " + key, "first_name,email\nZoe,", 600 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			status := slowPost(t, ts.URL, tc.path, tc.contentType, tc.auth, tc.part)
			if status != http.StatusRequestTimeout {
				t.Errorf("status %d, want 408", status)
			}
			if took := time.Since(start); took < tc.atLeast || took > 10*time.Second {
				t.Errorf("answered after %v, want after %v", took, tc.atLeast)
			}
		})
	}
}

// slowPost sends the start of a body that announces 10,000 bytes, then
// nothing, and returns the status of the answer.
func slowPost(tb testing.TB, base, path, contentType, auth, part string) int {
	tb.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 10000\r\n", path, u.Host, contentType)
	if auth != "" {
		head += "Authorization: " + auth + "\r\n"
	}
	if _, err := conn.Write([]byte(head + "\r\n" + part)); err != nil {
		tb.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
