package handlers

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestRequestsInFlightPaceHeavyWork: while a request is being served
// (here one whose form body has not arrived yet), heavy work's Pacer
// waits; once it is answered, the Pacer never does.
func TestRequestsInFlightPaceHeavyWork(t *testing.T) {
	ts := newTestServer(t)
	pacer := ts.tenants.NewPacer()
	if waited := pacer.Pace(); waited != 0 {
		t.Fatalf("waited %v with no request in flight", waited)
	}
	body, sendBody := io.Pipe()
	answered := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/login", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	// The request is in flight once the server reads its headers; the
	// pacer earns rest as time passes, so it waits then.
	for deadline := time.Now().Add(10 * time.Second); pacer.Pace() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pacer never waited while a request was in flight")
		}
	}
	sendBody.Close()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	// The count drops as the middleware returns, just after the answer.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if pacer.Pace() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pacer still waits after the request was answered")
		}
	}
}
