package handlers

import (
	"testing"
	"time"
)

func TestParseRestoreTime(t *testing.T) {
	got, err := parseRestoreTime("2026-11-27T14:30", "60")
	if want := time.Date(2026, 11, 27, 13, 30, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Fatalf("with offset: %v, %v; want %v", got, err, want)
	}
	if got, err := parseRestoreTime("2026-11-27T14:30", ""); err != nil || got.Hour() != 14 {
		t.Fatalf("without offset: %v, %v", got, err)
	}
	// A zone that cannot be read must not silently become UTC.
	if _, err := parseRestoreTime("2026-11-27T14:30", "sixty"); err == nil {
		t.Fatal("an unreadable offset was accepted")
	}
	if got, err := parseRestoreTime("", "x"); err != nil || !got.IsZero() {
		t.Fatalf("empty = %v, %v", got, err)
	}
}
