package store

import "testing"

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		in, currency, out string
		minor             int64
	}{
		{"1200.10", "EUR", "1200.10", 120010},
		{"1200.1", "EUR", "1200.10", 120010},
		{"1200", "EUR", "1200.00", 120000},
		{"0.05", "USD", "0.05", 5},
		{"", "EUR", "0.00", 0},
		{"1500", "JPY", "1500", 1500},
		{"1.234", "KWD", "1.234", 1234},
		{"9999999999999.99", "EUR", "9999999999999.99", 999999999999999},
	} {
		minor, err := ParseMoney(tc.in, tc.currency)
		if err != nil || minor != tc.minor {
			t.Errorf("ParseMoney(%q, %s) = %d, %v; want %d", tc.in, tc.currency, minor, err, tc.minor)
		}
		if got := FormatMoney(minor, tc.currency); got != tc.out {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", minor, tc.currency, got, tc.out)
		}
	}
	for _, bad := range []struct{ in, currency string }{
		{"1,200.10", "EUR"}, {"-5", "EUR"}, {"1e3", "EUR"}, {"1.001", "EUR"}, {"1.5", "JPY"}, {"abc", "EUR"}, {"12345678901234", "EUR"}, {".5", "EUR"},
	} {
		if _, err := ParseMoney(bad.in, bad.currency); ErrorField(err) != "value" {
			t.Errorf("ParseMoney(%q, %s): err = %v", bad.in, bad.currency, err)
		}
	}
}
