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

func TestGroupMoney(t *testing.T) {
	for _, tc := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{120010, "EUR", "1,200.10 EUR"},
		{120000, "JPY", "120,000 JPY"},
		{5, "USD", "0.05 USD"},
		{99990, "EUR", "999.90 EUR"},
		{100000, "EUR", "1,000.00 EUR"},
		{1234567, "KWD", "1,234.567 KWD"},
		{999999999999999, "EUR", "9,999,999,999,999.99 EUR"},
		{1000000, "JPY", "1,000,000 JPY"},
		{-123456, "EUR", "-1,234.56 EUR"},
		{0, "JPY", "0 JPY"},
	} {
		if got := MoneyText(tc.minor, tc.currency); got != tc.want {
			t.Errorf("MoneyText(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.want)
		}
	}
	// What is shown is not what an input takes: the grouped text is refused,
	// the plain one round-trips.
	if _, err := ParseMoney(GroupMoney(120010, "EUR"), "EUR"); err == nil {
		t.Error("ParseMoney accepted thousands separators")
	}
	if n, err := ParseMoney(FormatMoney(120010, "EUR"), "EUR"); err != nil || n != 120010 {
		t.Errorf("round trip: %d, %v", n, err)
	}
}
