package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// clientIPOf asks s for the client address of a request from remote with
// the given X-Forwarded-For header lines.
func clientIPOf(s *Server, remote string, xff ...string) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	return s.clientIP(req)
}

func TestClientIP_TrustProxy(t *testing.T) {
	s := &Server{trustProxy: true}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"NoHeader", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"OneHop", "10.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"ForgedLeftmost", "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.7"}, "203.0.113.7"},
		{"ForgedMany", "10.0.0.1:5000", []string{"1.1.1.1,2.2.2.2 ,  203.0.113.7"}, "203.0.113.7"},
		{"ForgedOnFirstLine", "10.0.0.1:5000", []string{"1.1.1.1", "203.0.113.7"}, "203.0.113.7"},
		{"Port", "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6", "10.0.0.1:5000", []string{"1.1.1.1, 2001:db8::7"}, "2001:db8::7"},
		{"IPv6Brackets", "10.0.0.1:5000", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"IPv6BracketsAndPort", "10.0.0.1:5000", []string{"[2001:DB8::7]:443"}, "2001:db8::7"},
		{"IPv4MappedIPv6", "10.0.0.1:5000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"GarbageLeft", "10.0.0.1:5000", []string{"<script>, unknown, 203.0.113.7"}, "203.0.113.7"},
		{"GarbageRightmost", "10.0.0.1:5000", []string{"1.1.1.1, unknown"}, "10.0.0.1"},
		{"EmptyRightmost", "10.0.0.1:5000", []string{"1.1.1.1,"}, "10.0.0.1"},
		{"EmptyHeader", "10.0.0.1:5000", []string{""}, "10.0.0.1"},
		{"IPv6Peer", "[2001:db8::1]:5000", []string{"1.1.1.1, 203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientIPOf(s, tc.remote, tc.xff...); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientIP_WithoutTrustProxy(t *testing.T) {
	s := &Server{}
	if got, want := clientIPOf(s, "192.0.2.9:5000", "1.1.1.1, 203.0.113.7"), "192.0.2.9"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestClientIP_TrustedProxies(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48 198.51.100.4")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{trustProxy: true, trustedProxies: trusted}
	for _, tc := range []struct {
		name, xff, want string
	}{
		{"SkipsTrustedHops", "1.1.1.1, 203.0.113.7, 10.1.2.3, 198.51.100.4", "203.0.113.7"},
		{"SkipsTrustedIPv6Hop", "203.0.113.7, [2001:db8:ffff::1]:80", "203.0.113.7"},
		{"StopsAtFirstUntrusted", "203.0.113.7, 198.51.100.5, 10.1.2.3", "198.51.100.5"},
		{"GarbageBehindTrustedHop", "1.1.1.1, garbage, 10.1.2.3", "10.1.2.3"},
		{"AllTrusted", "10.9.9.9, 10.1.2.3", "10.9.9.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientIPOf(s, "10.0.0.1:5000", tc.xff); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		got, err := ParseTrustedProxies(" 10.1.2.3/8,192.0.2.7  ::ffff:198.51.100.4, 2001:db8::/32,")
		if err != nil {
			t.Fatal(err)
		}
		want := []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
			netip.MustParsePrefix("198.51.100.4/32"), netip.MustParsePrefix("2001:db8::/32"),
		}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want none", got, err)
		}
	})
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1:80", "::ffff:10.0.0.0/104"} {
		t.Run("Err "+bad, func(t *testing.T) {
			if _, err := ParseTrustedProxies(bad); err == nil {
				t.Fatalf("%q: no error", bad)
			}
		})
	}
}

// TestLogin_LimitBehindProxy: a client behind the proxy cannot escape the
// per-address limit by writing a new X-Forwarded-For for each attempt.
func TestLogin_LimitBehindProxy(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "ann@example.com", false)
	h, err := New(t.Context(), Config{Tenants: ts.tenants, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS(".."), TrustProxy: true})
	if err != nil {
		t.Fatal(err)
	}
	proxied := &testServer{Server: httptest.NewServer(h), tenants: ts.tenants}
	t.Cleanup(proxied.Close)
	c := proxied.newClient(t)
	token := c.token("/login")
	login := func(email, forged string) response {
		form := url.Values{"email": {email}, "password": {"wrong password"}, "csrf_token": {token}}
		req, _ := http.NewRequest(http.MethodPost, proxied.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forged+", 203.0.113.7")
		return c.do(req)
	}
	for i := range maxFailuresPerIP {
		login("guess"+strconv.Itoa(i)+"@example.com", "198.51.100."+strconv.Itoa(i))
	}
	wantStatus(t, "a new forged address after the limit", login("ann@example.com", "198.51.100.250"), http.StatusTooManyRequests)
}
