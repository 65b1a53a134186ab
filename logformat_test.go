package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNewLogger_Formats(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request", "request_id", "abc", "status", 200)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "request" || rec["request_id"] != "abc" || rec["status"] != float64(200) {
		t.Fatalf("json log line %q: %v, %v", buf.String(), rec, err)
	}
	buf.Reset()
	if log, err = newLogger(&buf, ""); err != nil {
		t.Fatal(err)
	}
	log.Info("request", "status", 200)
	if !bytes.Contains(buf.Bytes(), []byte("msg=request status=200")) {
		t.Fatalf("text log line %q", buf.String())
	}
	if _, err := newLogger(&buf, "xml"); err == nil {
		t.Fatal("log format xml was taken")
	}
}
