package store

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Money amounts are held as integers of the currency's minor unit, so
// "1200.10" stays exactly "1200.10": there is no float on the way.

// currencyExponents lists the ISO 4217 currencies whose minor unit is not
// the hundredth; every other valid code has two decimals.
var currencyExponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// CurrencyExponent returns the number of decimals of a currency code.
func CurrencyExponent(code string) int {
	if e, ok := currencyExponents[code]; ok {
		return e
	}
	return 2
}

// cleanCurrency upper-cases and checks a three-letter currency code.
func cleanCurrency(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if !currencyCode.MatchString(code) {
		return "", FieldError("currency", "The currency must be a three-letter code such as EUR or USD.")
	}
	return code, nil
}

// maxMoneyDigits bounds the digits of a value's whole part, so minor units
// fit an int64 whatever the currency's decimals.
const maxMoneyDigits = 13

var decimalText = regexp.MustCompile(fmt.Sprintf(`^([0-9]{1,%d})(?:\.([0-9]+))?$`, maxMoneyDigits))

// ParseMoney turns a decimal string into minor units of the currency. It
// refuses more decimals than the currency has, negative values, thousands
// separators and exponents rather than guess.
func ParseMoney(s, currency string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	m := decimalText.FindStringSubmatch(s)
	exp := CurrencyExponent(currency)
	if m == nil {
		return 0, FieldError("value", "The value must be a decimal number such as 1200.10, without thousands separators.")
	}
	if len(m[2]) > exp {
		return 0, FieldError("value", "%s has %d decimals; %q has more.", currency, exp, s)
	}
	frac := m[2] + strings.Repeat("0", exp-len(m[2]))
	n, err := strconv.ParseInt(m[1]+frac, 10, 64)
	if err != nil {
		return 0, FieldError("value", "The value is too large.")
	}
	return n, nil
}

// FormatMoney writes minor units as a decimal string with the currency's
// decimals, e.g. 120010 EUR → "1200.10".
func FormatMoney(minor int64, currency string) string {
	exp := CurrencyExponent(currency)
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// GroupMoney writes minor units for reading: the currency's decimals and
// a comma between thousands, e.g. 120010 EUR → "1,200.10" and 120000 JPY →
// "120,000". It is for display only: ParseMoney refuses separators, so
// form inputs keep FormatMoney.
func GroupMoney(minor int64, currency string) string {
	s := FormatMoney(minor, currency)
	whole, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		whole, frac = s[:i], s[i:]
	}
	return groupDigits(whole) + frac
}

// GroupThousands writes n with a comma between thousands: 4956 → "4,956".
func GroupThousands(n int64) string { return groupDigits(strconv.FormatInt(n, 10)) }

// groupDigits puts a comma between each three digits of an integer
// written in digits, from the right; a leading minus stays in front.
func groupDigits(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// MoneyText writes an amount with its currency code, e.g. "1,200.10 EUR".
func MoneyText(minor int64, currency string) string {
	return GroupMoney(minor, currency) + " " + currency
}
